from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("accounts/<int:pk>/contacts/", views.account_contacts_view, name="account"),
    path("contacts/<int:pk>/edit/", views.edit, name="edit"),
    path("contacts/<int:pk>/primary/", views.make_primary, name="primary"),
    path("contacts/<int:pk>/left/", views.mark_left, name="left"),
    path("accounts/<int:pk>/touches/", views.account_touches_view, name="touches"),
    path("touches/<int:pk>/delete/", views.touch_delete_view, name="touch_delete"),
]
