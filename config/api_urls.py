"""/api/v1/: every app's API views, mounted in one place (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from accounts import api as accounts_api

app_name = "api"

urlpatterns = [
    path("accounts/", accounts_api.AccountListView.as_view(), name="account-list"),
    # Before the detail route: "bulk" is not an external id.
    path("accounts/bulk/", accounts_api.AccountBulkView.as_view(), name="account-bulk"),
    path(
        "accounts/<str:external_id>/",
        accounts_api.AccountDetailView.as_view(),
        name="account-detail",
    ),
]
