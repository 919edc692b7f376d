"""REST API of the scoring app: signal ingest, health scores and recompute (by the
account's external id), and the configuration of metrics and scoring models.

Accounts are reached through ``accounts_visible_to_token`` only: an account out of a
token's reach answers 404, and its signals are rejected as "unknown account", exactly
as for an account that does not exist.
"""

from scoring.api.configuration import (
    MetricDetailView,
    MetricListView,
    ScoringModelActivateView,
    ScoringModelDetailView,
    ScoringModelListView,
)
from scoring.api.scores import AccountRecomputeView, AccountScoreHistoryView, AccountScoreView
from scoring.api.signals import SignalIngestView

__all__ = [
    "AccountRecomputeView",
    "AccountScoreHistoryView",
    "AccountScoreView",
    "MetricDetailView",
    "MetricListView",
    "ScoringModelActivateView",
    "ScoringModelDetailView",
    "ScoringModelListView",
    "SignalIngestView",
]
