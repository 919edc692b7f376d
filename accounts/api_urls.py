"""The accounts part of /api/v1/ (mounted by config/api_urls.py, in the "api" namespace)."""

from __future__ import annotations

from django.urls import path

from accounts import api

urlpatterns = [
    path("accounts/", api.AccountListView.as_view(), name="account-list"),
    # Before the detail route: "bulk" is not an external id.
    path("accounts/bulk/", api.AccountBulkView.as_view(), name="account-bulk"),
    path("accounts/<str:external_id>/", api.AccountDetailView.as_view(), name="account-detail"),
    path("saved-views/", api.SavedViewListView.as_view(), name="saved-view-list"),
    path("saved-views/<int:id>/", api.SavedViewDetailView.as_view(), name="saved-view-detail"),
]
