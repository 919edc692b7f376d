"""The scoring part of /api/v1/ (mounted by config/api_urls.py, in the "api" namespace)."""

from __future__ import annotations

from django.urls import path

from scoring import api

urlpatterns = [
    path(
        "accounts/<str:external_id>/score/",
        api.AccountScoreView.as_view(),
        name="account-score",
    ),
    path(
        "accounts/<str:external_id>/scores/",
        api.AccountScoreHistoryView.as_view(),
        name="account-scores",
    ),
    path(
        "accounts/<str:external_id>/recompute/",
        api.AccountRecomputeView.as_view(),
        name="account-recompute",
    ),
    path("signals/", api.SignalIngestView.as_view(), name="signals"),
    path("metrics/", api.MetricListView.as_view(), name="metric-list"),
    path("metrics/<slug:key>/", api.MetricDetailView.as_view(), name="metric-detail"),
    path("scoring-models/", api.ScoringModelListView.as_view(), name="scoring-model-list"),
    path(
        "scoring-models/<int:id>/",
        api.ScoringModelDetailView.as_view(),
        name="scoring-model-detail",
    ),
    path(
        "scoring-models/<int:id>/activate/",
        api.ScoringModelActivateView.as_view(),
        name="scoring-model-activate",
    ),
]
