"""The scoring parts of the pages: the list's score columns, filters and sorts, the
account's health panel (scorecard, history chart, sentiment, recompute now) and the
health of "my book" on the home page."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scoring.models import AccountHealth, CsmSentiment, ScoreEvent
from scoring.services import scoring_run_create, scoring_run_execute
from tests.scoring.builders import add_signal, make_metric, make_model

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def scored(book):
    """Alice's and Bob's accounts scored twice: Acme falls from Healthy to At-risk."""
    make_metric("sentiment_pulse")
    model = make_model(
        "health",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 80,
            },
            {
                "metric": "csm_sentiment",
                "rule": "table",
                "params": {"table": {"5": 100, "4": 75, "3": 50, "2": 25, "1": 0}},
                "weight": 20,
            },
        ],
        bands=[("At-risk", 0, "at_risk"), ("Neutral", 50, "neutral"), ("Healthy", 75, "healthy")],
    )
    from scoring.models import Band

    Band.objects.filter(model=model, name="At-risk").update(color="#dc2626")
    now = timezone.now()
    acme, borealis = book["alice"], book["bob"]
    add_signal(acme, "logins", 19, now - dt.timedelta(days=40))
    add_signal(borealis, "logins", 12, now - dt.timedelta(days=40))
    scoring_run_execute(run=scoring_run_create(as_of=now - dt.timedelta(days=35)))
    add_signal(acme, "logins", 4, now - dt.timedelta(days=2))
    scoring_run_execute(run=scoring_run_create(as_of=now - dt.timedelta(minutes=1)))
    return book


def listed(response) -> list[str]:
    return [a.name for a in response.context["page"]]


def test_the_list_shows_score_band_and_trend(client_as, maggie, scored):
    response = client_as(maggie).get(reverse("accounts:list"), {"sort": "-score"})
    assert listed(response) == ["Borealis Bank", "Acme Analytics"]
    body = response.content.decode()
    assert "60.0" in body and "20.0" in body  # Borealis 12/20 → 60, Acme 4/20 → 20
    assert "At-risk" in body and "Neutral" in body
    assert "▼ −75.0" in body  # Acme: 95 thirty-five days ago, 20 now


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"band": "At-risk"}, ["Acme Analytics"]),
        ({"band": "Neutral"}, ["Borealis Bank"]),
        ({"band": "Healthy"}, []),
        ({"trend": "down10"}, ["Acme Analytics"]),
        ({"trend": "flat"}, ["Borealis Bank"]),
        ({"sort": "score"}, ["Acme Analytics", "Borealis Bank"]),
        ({"sort": "trend_30d"}, ["Acme Analytics", "Borealis Bank"]),
        ({"sort": "-trend_30d"}, ["Borealis Bank", "Acme Analytics"]),
    ],
)
def test_band_and_trend_filters_and_score_sorts(client_as, maggie, scored, params, expected):
    response = client_as(maggie).get(reverse("accounts:list"), params, **HTMX)
    assert listed(response) == expected


def test_the_band_filter_reads_the_latest_health_by_band_id(client_as, maggie, scored):
    """By id, which the planner estimates from the column's statistics (its estimate is
    the count a large list shows), not by a band name it cannot see through the join."""
    with CaptureQueriesContext(connection) as queries:
        response = client_as(maggie).get(reverse("accounts:list"), {"band": "At-risk"})
    assert listed(response) == ["Acme Analytics"]
    # The list's page of accounts (its count comes from the book's figures, and the
    # accounts churning after today are read by churn date, not by band).
    listing = [
        q["sql"]
        for q in queries
        if 'FROM "accounts_account"' in q["sql"] and '"accounts_account"."external_id"' in q["sql"]
    ]
    assert listing
    for sql in listing:
        # The last WHERE: the list's "has subsidiaries" probe has its own in the SELECT.
        where = sql.rsplit(" WHERE ", 1)[1]
        assert '"scoring_accounthealth"."band_id" IN' in where, sql
        assert '"scoring_band"."name"' not in where, sql


def test_the_export_carries_the_scores(client_as, maggie, scored):
    response = client_as(maggie).get(reverse("accounts:export"), {"band": "At-risk"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["Name"], r["Health score"], r["Band"], r["30-day change"]) for r in rows] == [
        ("Acme Analytics", "20.00", "At-risk", "-75.00")
    ]


def test_the_account_page_explains_the_score(client_as, alice, scored):
    response = client_as(alice).get(reverse("accounts:detail", args=[scored["alice"].pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="health-score">20.0<' in body
    # The scorecard: logins scored 20 with weight 80; sentiment had no data and was
    # left out, so logins carries the whole score.
    breakdown = response.context["breakdown"]
    assert [(r.metric_key, r.weight, r.raw, r.score, r.contribution) for r in breakdown] == [
        ("logins", 80.0, 4.0, 20.0, 20.0),
        ("csm_sentiment", 20.0, None, None, None),
    ]
    assert '<svg class="chart"' in body  # the 90-day history chart
    assert len(response.context["history_chart"].points) == 2
    assert "Logins" in body  # the latest signals


def test_recording_sentiment_in_place_recomputes_the_score(client_as, alice, scored):
    account = scored["alice"]
    url = reverse("scoring:sentiment", args=[account.pk])
    response = client_as(alice).post(url, {"value": "5", "note": "Great QBR"}, **HTMX)

    assert response.status_code == 200
    assert "<html" not in response.content.decode()  # the #health fragment only
    assert CsmSentiment.objects.get(account=account).note == "Great QBR"
    # (4/20 → 20) × 80 % + (5 → 100) × 20 % = 36
    assert AccountHealth.objects.get(account=account).score == pytest.approx(36)
    assert "Sentiment recorded" in response.content.decode()


def test_a_bad_sentiment_is_refused_with_the_form(client_as, alice, scored):
    account = scored["alice"]
    url = reverse("scoring:sentiment", args=[account.pk])
    response = client_as(alice).post(url, {"value": "9"}, **HTMX)
    assert "Select a valid choice" in response.content.decode()
    assert not CsmSentiment.objects.exists()


def test_recompute_now_refreshes_the_panel(client_as, alice, scored):
    account = scored["alice"]
    add_signal(account, "logins", 16, timezone.now() - dt.timedelta(minutes=1))
    response = client_as(alice).post(reverse("scoring:recompute", args=[account.pk]), **HTMX)
    assert response.status_code == 200
    assert 'id="health-score">80.0<' in response.content.decode()
    # Without htmx the same form redirects back to the account page.
    plain = client_as(alice).post(reverse("scoring:recompute", args=[account.pk]))
    assert plain.status_code == 302 and plain["Location"] == account.get_absolute_url()


@pytest.mark.parametrize("name", ["scoring:sentiment", "scoring:recompute"])
def test_actions_on_accounts_out_of_scope_answer_404(client_as, alice, scored, name):
    response = client_as(alice).post(reverse(name, args=[scored["bob"].pk]), {"value": "3"})
    assert response.status_code == 404
    assert not CsmSentiment.objects.exists()


def test_my_book_shows_bands_arr_at_risk_distribution_and_changes(client_as, maggie, scored):
    response = client_as(maggie).get(reverse("home"))
    body = response.content.decode()
    slices = {s.level: (s.accounts, s.arr) for s in response.context["level_slices"]}
    assert slices == {
        "healthy": (0, 0.0),
        "neutral": (1, 12000.0),
        "at_risk": (1, 12000.0),
        "critical": (0, 0.0),
        "": (0, 0.0),
    }
    assert response.context["arr_at_risk"] == 12000.0
    assert 'id="arr-at-risk">12,000<' in body
    [distribution] = response.context["distributions"]
    counts = {b.low: b.count for b in distribution["buckets"]}
    assert counts[20] == 1 and counts[60] == 1 and sum(counts.values()) == 2
    changes = list(response.context["recent_changes"])
    assert [(e.account.name, e.from_band.name, e.to_band.name) for e in changes] == [
        ("Acme Analytics", "Healthy", "At-risk")
    ]


def test_a_csm_book_holds_only_their_accounts(client_as, alice, scored):
    response = client_as(alice).get(reverse("home"))
    assert {s.level for s in response.context["level_slices"] if s.accounts} == {"at_risk"}
    assert ScoreEvent.objects.count() == 2  # band change + score drop, both Acme's
