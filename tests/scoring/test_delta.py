"""Every new score says what moved it since the account's previous score."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from scoring.attribution import delta_parts
from scoring.models import HealthScore
from scoring.selectors import delta_summary
from scoring.services import (
    scoring_model_activate,
    scoring_model_new_version,
    scoring_run_create,
    scoring_run_execute,
)
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_metric, make_model

MONDAY = dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)
TUESDAY = MONDAY + dt.timedelta(days=1)
WEDNESDAY = MONDAY + dt.timedelta(days=2)


def _score(as_of: dt.datetime) -> None:
    run = scoring_run_execute(run=scoring_run_create(as_of=as_of))
    assert run.status == "succeeded", run.errors


@pytest.fixture
def usage_model(db):
    make_metric("logins")
    make_metric("open_tickets")
    make_metric("nps")
    return make_model(
        "standard",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 100},
                "weight": 50,
            },
            {
                "metric": "open_tickets",
                "rule": "linear",
                "params": {"worst": 10, "best": 0},
                "weight": 30,
            },
            {"metric": "nps", "rule": "passthrough", "weight": 20},
        ],
        bands=[("At-risk", 0), ("Healthy", 60)],
    )


def test_a_first_score_has_nothing_to_compare_with(usage_model):
    acme = AccountFactory(name="Acme")
    add_signal(acme, "logins", 80, MONDAY - dt.timedelta(hours=1))
    _score(MONDAY)
    first = HealthScore.objects.get(account=acme)
    assert first.delta is None
    assert delta_summary(health_score=first) == ""


def test_the_parts_of_a_drop_add_up_to_it_and_name_the_components(usage_model):
    acme = AccountFactory(name="Acme")
    add_signal(acme, "logins", 80, MONDAY - dt.timedelta(hours=1))
    add_signal(acme, "open_tickets", 1, MONDAY - dt.timedelta(hours=1))
    add_signal(acme, "nps", 70, MONDAY - dt.timedelta(hours=1))
    _score(MONDAY)
    # Usage halves and tickets pile up; the NPS answer stays.
    add_signal(acme, "logins", 40, TUESDAY - dt.timedelta(hours=1))
    add_signal(acme, "open_tickets", 6, TUESDAY - dt.timedelta(hours=1))
    _score(TUESDAY)

    before, after = HealthScore.objects.filter(account=acme).order_by("computed_at")
    # 0.5 × 80 + 0.3 × 90 + 0.2 × 70 = 81 → 0.5 × 40 + 0.3 × 40 + 0.2 × 70 = 46.
    assert (before.score, after.score) == pytest.approx((81, 46))
    assert after.delta["from"] == before.pk
    assert after.delta["change"] == pytest.approx(-35)
    assert after.delta["parts"] == pytest.approx([-20, -15, 0])
    assert sum(after.delta["parts"]) == pytest.approx(after.delta["change"])
    assert delta_summary(health_score=after) == "−35.0: Logins −20.0, Open Tickets −15.0"


def test_a_component_that_gains_data_reweights_the_rest_and_the_parts_still_add_up(
    usage_model,
):
    acme = AccountFactory(name="Acme")
    add_signal(acme, "logins", 80, MONDAY - dt.timedelta(hours=1))
    add_signal(acme, "nps", 30, MONDAY - dt.timedelta(hours=1))
    _score(MONDAY)
    add_signal(acme, "open_tickets", 2, TUESDAY - dt.timedelta(hours=1))
    _score(TUESDAY)

    before, after = HealthScore.objects.filter(account=acme).order_by("computed_at")
    expected = delta_parts(
        kind="weighted",
        weights=[50, 30, 20],
        old=[pair[1] for pair in before.breakdown],
        new=[pair[1] for pair in after.breakdown],
    )
    assert after.delta["parts"] == pytest.approx(expected, abs=1e-12)
    assert sum(expected) == pytest.approx(after.score - before.score)
    # 65.7 (logins 57.1 + NPS 8.6) → 70 (logins 40 + tickets 24 + NPS 6): the tickets
    # arrived (+24) and took weight from the others.
    assert delta_summary(health_score=after) == "+4.3: Open Tickets +24.0, Logins −17.1, Nps −2.6"


def test_points_models_attribute_the_change_in_points(db):
    make_metric("csat")
    make_metric("late_invoices")
    make_model(
        "points",
        kind="points",
        components=[
            {"metric": "csat", "rule": "table", "params": {"table": {"5": 10, "1": -10}}},
            {"metric": "late_invoices", "rule": "per_unit", "params": {"points": -5}},
        ],
        bands=[("Low", None), ("Fine", 0)],
    )
    acme = AccountFactory(name="Acme")
    add_signal(acme, "csat", 5, MONDAY - dt.timedelta(hours=1))
    add_signal(acme, "late_invoices", 0, MONDAY - dt.timedelta(hours=1))
    _score(MONDAY)
    add_signal(acme, "csat", 1, TUESDAY - dt.timedelta(hours=1))
    add_signal(acme, "late_invoices", 2, TUESDAY - dt.timedelta(hours=1))
    _score(TUESDAY)
    after = HealthScore.objects.filter(account=acme).latest("computed_at")
    assert after.delta["change"] == pytest.approx(-30)
    assert after.delta["parts"] == pytest.approx([-20, -10])
    assert delta_summary(health_score=after) == "−30.0: Csat −20.0, Late Invoices −10.0"


def test_a_new_model_version_takes_the_whole_change(usage_model):
    acme = AccountFactory(name="Acme")
    add_signal(acme, "logins", 80, MONDAY - dt.timedelta(hours=1))
    add_signal(acme, "open_tickets", 1, MONDAY - dt.timedelta(hours=1))
    _score(MONDAY)
    draft = scoring_model_new_version(model=usage_model)
    draft.components.filter(metric__key="logins").update(weight=20)
    draft.components.filter(metric__key="nps").update(weight=50)
    scoring_model_activate(model=draft, now=TUESDAY - dt.timedelta(hours=2))
    _score(TUESDAY)

    after = HealthScore.objects.filter(account=acme).latest("computed_at")
    assert after.model == draft
    assert after.delta["parts"] is None
    # (0.5 × 80 + 0.3 × 90) / 0.8 = 83.75 under v1; (0.2 × 80 + 0.3 × 90) / 0.5 = 86 under v2.
    assert after.delta["change"] == pytest.approx(86 - 83.75)
    assert delta_summary(health_score=after) == "+2.3: model changed (Standard v1 → Standard v2)."


def test_the_account_page_says_what_moved_the_score(usage_model, client_as, alice):
    acme = AccountFactory(name="Acme", owner=alice)
    add_signal(acme, "logins", 80, MONDAY - dt.timedelta(hours=1))
    _score(MONDAY)
    add_signal(acme, "logins", 30, WEDNESDAY - dt.timedelta(hours=1))
    _score(WEDNESDAY)
    page = client_as(alice).get(acme.get_absolute_url())
    assert page.status_code == 200
    assert "Since the previous score:" in page.content.decode()
    assert "−50.0: Logins −50.0" in page.content.decode()


def test_the_history_chart_marks_where_the_model_version_changed(usage_model, client_as, alice):
    now = timezone.now()
    acme = AccountFactory(name="Acme", owner=alice)
    add_signal(acme, "logins", 80, now - dt.timedelta(days=10))
    _score(now - dt.timedelta(days=9))
    draft = scoring_model_new_version(model=usage_model)
    scoring_model_activate(model=draft, now=now - dt.timedelta(days=5))
    _score(now - dt.timedelta(days=4))
    html = client_as(alice).get(acme.get_absolute_url()).content.decode()
    assert html.count("<title>Model changed:") == 1
    assert "<title>Model changed: Standard v2</title>" in html
    assert "model changed (Standard v1 → Standard v2)" in html
