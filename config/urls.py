from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import views as config_views

urlpatterns = [
    path("", include("accounts.home_urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("scoring.urls")),
    path("", include("playbooks.urls")),
    path("", include("contacts.urls")),
    path("", include("renewals.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("workspace.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", config_views.api_docs, name="api-docs"),
    path("favicon.ico", config_views.favicon),
]

handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
