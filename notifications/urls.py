from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/open/", views.open_notification, name="open"),
    path("<int:pk>/read/", views.read, name="read"),
    path("read/", views.read_all, name="read_all"),
    path("settings/", views.settings_page, name="settings"),
]
