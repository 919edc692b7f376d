"""/api/v1/: every app's API views, mounted in one place (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from accounts import api as accounts_api
from playbooks import api as playbooks_api
from scoring import api as scoring_api

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
    path(
        "accounts/<str:external_id>/score/",
        scoring_api.AccountScoreView.as_view(),
        name="account-score",
    ),
    path(
        "accounts/<str:external_id>/scores/",
        scoring_api.AccountScoreHistoryView.as_view(),
        name="account-scores",
    ),
    path(
        "accounts/<str:external_id>/recompute/",
        scoring_api.AccountRecomputeView.as_view(),
        name="account-recompute",
    ),
    path("signals/", scoring_api.SignalIngestView.as_view(), name="signals"),
    path("metrics/", scoring_api.MetricListView.as_view(), name="metric-list"),
    path("metrics/<slug:key>/", scoring_api.MetricDetailView.as_view(), name="metric-detail"),
    path("tasks/", playbooks_api.TaskListView.as_view(), name="task-list"),
    path("tasks/<int:id>/", playbooks_api.TaskDetailView.as_view(), name="task-detail"),
    path("playbooks/", playbooks_api.PlaybookListView.as_view(), name="playbook-list"),
    path(
        "playbooks/<int:id>/",
        playbooks_api.PlaybookDetailView.as_view(),
        name="playbook-detail",
    ),
    path(
        "playbooks/<int:id>/backfill/",
        playbooks_api.PlaybookBackfillView.as_view(),
        name="playbook-backfill",
    ),
    path(
        "playbooks/<int:id>/effectiveness/",
        playbooks_api.PlaybookEffectivenessView.as_view(),
        name="playbook-effectiveness",
    ),
    path("scoring-models/", scoring_api.ScoringModelListView.as_view(), name="scoring-model-list"),
    path(
        "scoring-models/<int:id>/",
        scoring_api.ScoringModelDetailView.as_view(),
        name="scoring-model-detail",
    ),
    path(
        "scoring-models/<int:id>/activate/",
        scoring_api.ScoringModelActivateView.as_view(),
        name="scoring-model-activate",
    ),
]
