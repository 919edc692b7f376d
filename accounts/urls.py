from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("export.csv", views.account_export, name="export"),
    path("suggest/", views.account_suggest, name="suggest"),
    path("bulk/", views.account_bulk, name="bulk"),
    path("views/", views.saved_views, name="views"),
    path("views/new/", views.saved_view_new, name="view-new"),
    path("views/<int:pk>/edit/", views.saved_view_edit, name="view-edit"),
    path("views/<int:pk>/delete/", views.saved_view_remove, name="view-delete"),
    path("<int:pk>/", views.account_detail, name="detail"),
]
