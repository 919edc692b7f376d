"""The renewals part of /api/v1/ (mounted by config/api_urls.py, in the "api" namespace)."""

from __future__ import annotations

from django.urls import path

from renewals import api

urlpatterns = [
    path(
        "accounts/<str:external_id>/outcomes/",
        api.AccountOutcomesView.as_view(),
        name="account-outcomes",
    ),
    path("renewals/", api.RenewalListView.as_view(), name="renewal-list"),
    path("renewal-reasons/", api.RenewalReasonListView.as_view(), name="renewal-reason-list"),
    path("retention/", api.RetentionView.as_view(), name="retention"),
]
