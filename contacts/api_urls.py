"""The contacts part of /api/v1/ (mounted by config/api_urls.py, in the "api" namespace)."""

from __future__ import annotations

from django.urls import path

from contacts import api

urlpatterns = [
    path(
        "accounts/<str:external_id>/contacts/",
        api.AccountContactsView.as_view(),
        name="account-contacts",
    ),
    path(
        "accounts/<str:external_id>/touches/",
        api.AccountTouchesView.as_view(),
        name="account-touches",
    ),
]
