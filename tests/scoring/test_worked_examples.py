"""The worked examples of the seed articles come out exactly, through the pure engine and
through the recompute that runs in the database."""

from __future__ import annotations

import datetime as dt

import pytest

from scoring.engine import BandSpec, ComponentSpec, ModelSpec, score_account
from scoring.models import AccountHealth, HealthScore
from scoring.services import recompute_now
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_model

AS_OF = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)

# Seed 002: product usage 40 % scoring 85, NPS 25 % scoring 70, support tickets 20 %
# scoring 60, onboarding completion 15 % scoring 90 => 77, band Healthy (75–100).
SCORECARD = [
    {"metric": "product_usage", "rule": "passthrough", "weight": 40},
    {"metric": "nps_score", "rule": "passthrough", "weight": 25},
    {"metric": "support_score", "rule": "passthrough", "weight": 20},
    {"metric": "onboarding_pct", "rule": "passthrough", "weight": 15},
]
SCORECARD_VALUES = {"product_usage": 85, "nps_score": 70, "support_score": 60, "onboarding_pct": 90}
SCORECARD_BANDS = [("At-risk", 0), ("Neutral", 50), ("Healthy", 75)]

# Seed 004: two years' tenure at +10 a year, CSAT 4 => +5, three resolved tickets at +5,
# two unresolved at -5, one positive review +10 => 40, band "Stable" (26–50).
IMPACT_POINTS = [
    {"metric": "tenure_years", "rule": "per_unit", "params": {"points": 10}},
    {
        "metric": "csat",
        "rule": "table",
        "params": {"table": {"5": 10, "4": 5, "3": 0, "2": -5, "1": -10}},
    },
    {"metric": "resolved_tickets", "rule": "per_unit", "params": {"points": 5}},
    {"metric": "unresolved_tickets", "rule": "per_unit", "params": {"points": -5}},
    {"metric": "positive_reviews", "rule": "per_unit", "params": {"points": 10}},
]
IMPACT_VALUES = {
    "tenure_years": 2,
    "csat": 4,
    "resolved_tickets": 3,
    "unresolved_tickets": 2,
    "positive_reviews": 1,
}
IMPACT_BANDS = [
    ("Critical condition", None),
    ("Struggling", 0),
    ("Stable", 26),
    ("Thriving", 51),
    ("Superstar", 76),
]


def _spec(kind, components, bands):
    return ModelSpec(
        kind=kind,
        components=tuple(
            ComponentSpec(c["metric"], c["rule"], c.get("params", {}), c.get("weight", 0))
            for c in components
        ),
        bands=tuple(BandSpec(name, lower) for name, lower in bands),
    )


def test_seed_002_scorecard_in_the_engine():
    result = score_account(_spec("weighted", SCORECARD, SCORECARD_BANDS), SCORECARD_VALUES)
    assert result.score == 77
    assert result.band.name == "Healthy"
    assert result.completeness == 1
    assert [c.contribution for c in result.components] == [34, 17.5, 12, 13.5]


def test_seed_004_impact_points_in_the_engine():
    result = score_account(_spec("points", IMPACT_POINTS, IMPACT_BANDS), IMPACT_VALUES)
    assert result.score == 40
    assert result.band.name == "Stable"
    assert [c.score for c in result.components] == [20, 5, 15, -10, 10]


@pytest.mark.django_db
def test_seed_002_scorecard_through_the_recompute():
    model = make_model("scorecard", components=SCORECARD, bands=SCORECARD_BANDS)
    account = AccountFactory()
    for key, value in SCORECARD_VALUES.items():
        add_signal(account, key, value, AS_OF - dt.timedelta(days=1))

    recompute_now(account=account)

    health = AccountHealth.objects.select_related("band").get(account=account)
    assert health.score == 77
    assert health.band.name == "Healthy"
    assert health.completeness == 1
    assert health.model == model
    history = HealthScore.objects.get(account=account)
    assert history.breakdown == [[85, 85], [70, 70], [60, 60], [90, 90]]


@pytest.mark.django_db
def test_seed_004_impact_points_through_the_recompute():
    make_model("impact", kind="points", components=IMPACT_POINTS, bands=IMPACT_BANDS)
    account = AccountFactory()
    for key, value in IMPACT_VALUES.items():
        add_signal(account, key, value, AS_OF - dt.timedelta(days=1))

    recompute_now(account=account)

    health = AccountHealth.objects.select_related("band").get(account=account)
    assert health.score == 40
    assert health.band.name == "Stable"
