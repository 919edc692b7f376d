"""The home page, "My book", at the site's root (named ``home``, outside the accounts
namespace; mounted by config/urls.py)."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
]
