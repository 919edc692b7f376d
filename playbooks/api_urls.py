"""The playbooks part of /api/v1/ (mounted by config/api_urls.py, in the "api" namespace)."""

from __future__ import annotations

from django.urls import path

from playbooks import api

urlpatterns = [
    path("tasks/", api.TaskListView.as_view(), name="task-list"),
    path("tasks/<int:id>/", api.TaskDetailView.as_view(), name="task-detail"),
    path("playbooks/", api.PlaybookListView.as_view(), name="playbook-list"),
    path("playbooks/<int:id>/", api.PlaybookDetailView.as_view(), name="playbook-detail"),
    path(
        "playbooks/<int:id>/backfill/",
        api.PlaybookBackfillView.as_view(),
        name="playbook-backfill",
    ),
    path(
        "playbooks/<int:id>/effectiveness/",
        api.PlaybookEffectivenessView.as_view(),
        name="playbook-effectiveness",
    ),
]
