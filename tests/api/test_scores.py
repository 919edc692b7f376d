"""Health scores over the API: a BI tool reads the latest score with its breakdown and
the history; a CRM asks for a recompute after it changed an account.

Personas from tests/conftest.py: ``book`` gives Alice, Bob and Charlie one account each
(acme, borealis, cobalt).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from scoring.models import Band, HealthScore, ScoringRun
from scoring.services import scoring_run_create, scoring_run_execute
from tests.scoring.builders import add_signal, make_model

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def score_url(external_id: str) -> str:
    return f"/api/v1/accounts/{external_id}/score/"


def history_url(external_id: str) -> str:
    return f"/api/v1/accounts/{external_id}/scores/"


def recompute_url(external_id: str) -> str:
    return f"/api/v1/accounts/{external_id}/recompute/"


@pytest.fixture
def health_model(db):
    """Logins (0 → 20 a day, 60 %) and NPS as it is (40 %); three bands."""
    model = make_model(
        "health",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 60,
            },
            {"metric": "nps", "rule": "passthrough", "weight": 40},
        ],
        bands=[("At-risk", None), ("Neutral", 50), ("Healthy", 75)],
    )
    Band.objects.filter(model=model, name="Neutral").update(color="#ca8a04")
    Band.objects.filter(model=model, name="At-risk").update(level="at_risk")
    return model


def score_at(as_of: dt.datetime) -> ScoringRun:
    return scoring_run_execute(run=scoring_run_create(as_of=as_of))


# --- the latest score ----------------------------------------------------------------------


def test_the_latest_score_comes_with_its_band_trend_and_breakdown(book, health_model, api_as):
    acme = book["alice"]
    add_signal(acme, "logins", 18, NOW - dt.timedelta(days=9))
    add_signal(acme, "nps", 50, NOW - dt.timedelta(days=9))
    score_at(NOW - dt.timedelta(days=8))  # 90 × 0.6 + 50 × 0.4 = 74
    add_signal(acme, "logins", 15, NOW - dt.timedelta(days=1))
    score_at(NOW)  # 75 × 0.6 + 50 × 0.4 = 65

    response = api_as("scores:read").get(score_url("acme"))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "account": "acme",
        "model": {
            "id": health_model.pk,
            "key": "health",
            "name": "Health",
            "version": 1,
            "kind": "weighted",
        },
        "score": 65.0,
        "band": {"name": "Neutral", "color": "#ca8a04", "level": "neutral", "is_at_risk": False},
        "raw_band": {
            "name": "Neutral",
            "color": "#ca8a04",
            "level": "neutral",
            "is_at_risk": False,
        },
        "pending": None,
        "rebaseline": False,
        "completeness": 1.0,
        "computed_at": "2026-11-20T03:00:00Z",
        "trend_7d": -9.0,
        "trend_30d": None,
        "trend_90d": None,
        "components": [
            {
                "metric": "logins",
                "label": "Logins",
                "unit": "",
                "rule": "Linear range",
                "weight": 60.0,
                "raw_value": 15.0,
                "score": 75.0,
                "contribution": 45.0,
            },
            {
                "metric": "nps",
                "label": "Nps",
                "unit": "",
                "rule": "Pass-through (0–100)",
                "weight": 40.0,
                "raw_value": 50.0,
                "score": 50.0,
                "contribution": 20.0,
            },
        ],
    }


def test_a_component_without_data_is_left_out_and_the_rest_reweighted(book, health_model, api_as):
    add_signal(book["bob"], "logins", 5, NOW - dt.timedelta(days=1))  # 25; no NPS
    score_at(NOW)

    body = api_as("scores:read").get(score_url("borealis")).json()

    assert body["score"] == 25.0
    assert body["completeness"] == pytest.approx(0.6)
    assert body["band"]["name"] == "At-risk"
    assert body["band"]["is_at_risk"] is True
    logins, nps = body["components"]
    assert logins["contribution"] == pytest.approx(25.0)
    assert (nps["raw_value"], nps["score"], nps["contribution"]) == (None, None, None)


def test_an_account_never_scored_is_a_clear_404(book, health_model, api_as):
    response = api_as("scores:read").get(score_url("cobalt"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_scored"
    assert "no health score yet" in error["message"]


def test_a_missing_account_and_one_out_of_reach_answer_alike(book, health_model, api_as):
    add_signal(book["bob"], "logins", 5, NOW - dt.timedelta(days=1))
    score_at(NOW)
    alices = api_as("scores:read", user=book["alice"].owner)

    out_of_reach = alices.get(score_url("borealis"))
    missing = alices.get(score_url("nowhere"))

    assert out_of_reach.status_code == missing.status_code == 404
    assert (
        out_of_reach.json()
        == missing.json()
        == {"error": {"code": "not_found", "message": "No such account."}}
    )


# --- history -------------------------------------------------------------------------------


@pytest.fixture
def acme_history(book, health_model):
    """Acme scored on the 1st, 10th and 20th of November at 03:00."""
    acme = book["alice"]
    for day, logins in ((1, 4), (10, 10), (20, 16)):
        at = dt.datetime(2026, 11, day, 3, tzinfo=dt.UTC)
        add_signal(acme, "logins", logins, at - dt.timedelta(hours=1))
        score_at(at)
    return acme


def test_the_history_lists_every_score_newest_first(acme_history, api_as):
    response = api_as("scores:read").get(history_url("acme"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    assert [(r["computed_at"][:10], r["score"]) for r in body["results"]] == [
        ("2026-11-20", 80.0),
        ("2026-11-10", 50.0),
        ("2026-11-01", 20.0),
    ]
    latest = body["results"][0]
    assert latest["band"] == {
        "name": "Healthy",
        "color": "#64748b",
        "level": "neutral",
        "is_at_risk": False,
    }
    assert latest["confirmed_band"] == latest["band"]  # no flap control in this model
    assert latest["rebaseline"] is False
    assert latest["completeness"] == pytest.approx(0.6)
    assert latest["model"]["key"] == "health"


@pytest.mark.parametrize(
    ("params", "days"),
    [
        ({"since": "2026-11-10"}, ["20", "10"]),
        ({"until": "2026-11-10"}, ["10", "01"]),  # a date includes its whole day
        ({"since": "2026-11-02", "until": "2026-11-19"}, ["10"]),
        ({"since": "2026-11-10T03:00:00Z"}, ["20", "10"]),  # inclusive
        ({"since": "2026-11-10T03:00:01Z"}, ["20"]),
        ({"until": "2026-11-10T04:00:00+01:00"}, ["10", "01"]),  # 03:00 UTC
        ({"until": "2026-11-10T02:59:59"}, ["01"]),  # no offset: UTC
    ],
)
def test_since_and_until_bound_the_history(acme_history, api_as, params, days):
    body = api_as("scores:read").get(history_url("acme"), params).json()
    assert [r["computed_at"][8:10] for r in body["results"]] == days


def test_the_history_is_paginated(acme_history, api_as):
    api = api_as("scores:read")
    first = api.get(history_url("acme"), {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    numbered = api.get(history_url("acme"), {"page_size": 2, "page": 2}).json()

    assert [r["score"] for r in first["results"]] == [80.0, 50.0]  # newest first
    assert [r["score"] for r in second["results"]] == [20.0]
    assert second["next"] is None and "page_size=2" in second["previous"]
    assert numbered["count"] == 3 and numbered["results"] == second["results"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "last week"}, "since", "'last week' is not an ISO 8601 date or date-time"),
        ({"until": "2026-13-01"}, "until", "'2026-13-01' is not a valid date"),
        ({"until": "2026-11-31"}, "until", "'2026-11-31' is not a valid date"),
        ({"since": "2026-11-10", "until": "2026-11-01"}, "until", "Is before since"),
    ],
)
def test_a_bad_bound_is_400_naming_it(acme_history, api_as, params, field, message):
    response = api_as("scores:read").get(history_url("acme"), params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == [field]
    assert error["fields"][field][0].startswith(message)
    assert field in error["message"]


def test_the_history_of_an_account_out_of_reach_is_404(acme_history, api_as, charlie):
    response = api_as("scores:read", user=charlie).get(history_url("acme"))
    assert response.status_code == 404


# --- recompute now -------------------------------------------------------------------------


def test_recompute_scores_the_account_now_and_answers_with_the_new_score(
    book, health_model, api_as
):
    acme = book["alice"]
    add_signal(acme, "logins", 10, timezone.now() - dt.timedelta(hours=2))
    api = api_as("accounts:write", "scores:read", user=acme.owner)

    first = api.post(recompute_url("acme"))
    add_signal(acme, "logins", 20, timezone.now() - dt.timedelta(minutes=1))
    second = api.post(recompute_url("acme"))

    assert first.status_code == 200, first.content
    assert first.json()["score"] == 50.0
    assert second.json()["score"] == 100.0
    assert second.json()["band"]["name"] == "Healthy"
    assert api.get(score_url("acme")).json() == second.json()
    assert HealthScore.objects.filter(account=acme).count() == 2
    run = ScoringRun.objects.order_by("-pk").first()
    assert (run.scope, run.account_id, run.requested_by) == ("account", acme.pk, acme.owner)


def test_recompute_without_an_applicable_model_is_a_409_saying_so(book, api_as):
    response = api_as("accounts:write").post(recompute_url("acme"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_scored"
    assert "no active scoring model applies" in error["message"]


def test_recompute_of_an_account_out_of_reach_is_404_and_scores_nothing(book, health_model, api_as):
    response = api_as("accounts:write", user=book["alice"].owner).post(recompute_url("cobalt"))
    assert response.status_code == 404
    assert not ScoringRun.objects.exists()
