"""Triggers, conditions and cooldown: which events and states become playbook runs.

The book is the personas' (Alice and Bob on Maggie's Enterprise team, Charlie on Mark's
SMB team). Scores come from logins: 18 logins score 90 (Healthy), 12 score 60 (Neutral),
6 score 30 (At-risk).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from playbooks.models import Playbook, PlaybookRun, PlaybookStepRun, Task
from playbooks.services import (
    score_events_process,
    score_events_process_all,
    state_triggers_evaluate,
    step_runs_due_execute,
)
from scoring.models import ScoreEvent
from tests.factories import AccountFactory
from tests.playbooks.builders import (
    NOW,
    TODAY,
    healthy_then,
    make_playbook,
    score,
    score_each,
)
from tests.scoring.builders import add_signal, make_metric

pytestmark = pytest.mark.django_db


def runs_for(playbook: Playbook) -> list[tuple[str, str]]:
    return sorted(
        PlaybookRun.objects.filter(playbook=playbook).values_list(
            "account__external_id", "event_key"
        )
    )


# --- Band changed -------------------------------------------------------------------------


def test_falling_into_at_risk_fires_the_playbook_once_with_the_events_numbers(usage, book):
    playbook = make_playbook()
    healthy_then(book["alice"], 6)

    result = score_events_process(now=NOW)

    assert (result.events, result.runs) == (2, 1)  # a band change and a score drop
    run = PlaybookRun.objects.get(playbook=playbook)
    event = ScoreEvent.objects.get(kind="band_changed")
    assert run.account == book["alice"]
    assert run.event_key == f"score_event:{event.pk}"
    assert run.score_event == event
    assert run.context == {
        "score": "30.0",
        "band": "At-risk",
        "previous_band": "Healthy",
        "delta": "−60.0",
    }
    assert run.status == PlaybookRun.Status.RUNNING
    assert ScoreEvent.objects.filter(claimed_at=NOW).count() == 2
    step_run = PlaybookStepRun.objects.get(run=run)
    assert (step_run.status, step_run.due_at, step_run.dispatched_at) == ("waiting", NOW, NOW)


def test_processing_again_adds_nothing(usage, book):
    make_playbook()
    healthy_then(book["alice"], 6)
    score_events_process(now=NOW)

    again = score_events_process(now=NOW + dt.timedelta(minutes=1))

    assert (again.events, again.runs) == (0, 0)
    assert PlaybookRun.objects.count() == 1
    assert PlaybookStepRun.objects.count() == 1


def test_a_band_change_into_another_band_does_not_fire(usage, book):
    playbook = make_playbook()
    healthy_then(book["alice"], 12)  # Healthy → Neutral

    score_events_process(now=NOW)

    assert runs_for(playbook) == []
    assert ScoreEvent.objects.filter(claimed_at__isnull=True).count() == 0


def test_from_band_narrows_the_change(usage, book):
    from_neutral = make_playbook("Neutral to At-risk", from_band_name="Neutral")
    from_any = make_playbook("Any to At-risk")
    alice, bob = book["alice"], book["bob"]
    score_each({alice: 18, bob: 12}, at=NOW - dt.timedelta(days=1))  # Healthy, Neutral
    score_each({alice: 6, bob: 6}, at=NOW)  # both At-risk

    score_events_process(now=NOW)

    assert [a for a, _ in runs_for(from_neutral)] == ["borealis"]
    assert [a for a, _ in runs_for(from_any)] == ["acme", "borealis"]


def test_bands_are_compared_by_name_across_model_versions(usage, book):
    """A new version of the model has its own Band rows; "At-risk" is still "At-risk".
    The first score under the new version is a re-baseline, acted on only by a playbook
    that opts in."""
    from scoring.services import scoring_model_activate, scoring_model_new_version

    quiet = make_playbook("Quiet")
    opted_in = make_playbook("Opted in", on_rebaseline=True)
    score(book["alice"], 18, at=NOW - dt.timedelta(days=1))
    scoring_model_activate(model=scoring_model_new_version(model=usage))
    score(book["alice"], 6, at=NOW)

    score_events_process(now=NOW)

    event = ScoreEvent.objects.get(kind="band_changed")
    assert event.from_band.model_id != event.to_band.model_id
    assert event.rebaseline
    assert runs_for(quiet) == []
    assert len(runs_for(opted_in)) == 1


def test_churned_accounts_fire_nothing(usage, book):
    playbook = make_playbook()
    healthy_then(book["alice"], 6)
    Account.objects.filter(pk=book["alice"].pk).update(churned_at=TODAY)

    score_events_process(now=NOW)

    assert runs_for(playbook) == []


def test_an_inactive_playbook_does_not_fire(usage, book):
    playbook = make_playbook(is_active=False)
    healthy_then(book["alice"], 6)
    score_events_process(now=NOW)
    assert runs_for(playbook) == []


# --- Score dropped ------------------------------------------------------------------------


def test_a_score_drop_fires_when_it_reaches_the_playbooks_points(usage, book):
    big_drop = make_playbook(
        "Dropped 40", trigger=Playbook.Trigger.SCORE_DROPPED, drop_points=40, within_days=7
    )
    huge_drop = make_playbook(
        "Dropped 70", trigger=Playbook.Trigger.SCORE_DROPPED, drop_points=70, within_days=7
    )
    healthy_then(book["alice"], 6)  # 90 → 30: a drop of 60

    score_events_process(now=NOW)

    drop = ScoreEvent.objects.get(kind="score_dropped")
    assert runs_for(big_drop) == [("acme", f"score_event:{drop.pk}")]
    assert runs_for(huge_drop) == []
    assert PlaybookRun.objects.get(playbook=big_drop).context["delta"] == "−60.0"


def test_a_drop_is_measured_against_the_best_score_of_the_window(usage, book):
    """90 five days ago, 75 yesterday, 45 now: the recompute saw a 30-point fall, the
    playbook a 45-point one within its 7 days."""
    playbook = make_playbook(
        "Dropped 40", trigger=Playbook.Trigger.SCORE_DROPPED, drop_points=40, within_days=7
    )
    alice = book["alice"]
    score(alice, 18, at=NOW - dt.timedelta(days=5))
    score(alice, 15, at=NOW - dt.timedelta(days=1))
    score(alice, 9, at=NOW)

    score_events_process(now=NOW)

    assert len(runs_for(playbook)) == 1
    assert PlaybookRun.objects.get().context["delta"] == "−45.0"


def test_a_gradual_decline_is_caught_by_the_periodic_check(usage, book):
    """Small daily steps (each under the recompute's 10-point event threshold) add up to
    a 24-point fall within the week: no score event, but the state check sees it."""
    playbook = make_playbook(
        "Dropped 20", trigger=Playbook.Trigger.SCORE_DROPPED, drop_points=20, within_days=7
    )
    alice = book["alice"]
    for days_ago, logins in [(3, 18), (2, 16.4), (1, 14.8), (0, 13.2)]:
        score(alice, logins, at=NOW - dt.timedelta(days=days_ago))
    assert not ScoreEvent.objects.filter(kind="score_dropped").exists()
    assert score_events_process(now=NOW).runs == 0

    result = state_triggers_evaluate(now=NOW)

    assert result.runs == 1
    run = PlaybookRun.objects.get(playbook=playbook)
    assert run.event_key == f"score_drop:{alice.health.health_score_id}"
    assert run.context["delta"] == "−24.0"
    assert state_triggers_evaluate(now=NOW + dt.timedelta(hours=1)).runs == 0


# --- Score below ----------------------------------------------------------------------------


def test_score_below_fires_once_per_computation(usage, book):
    playbook = make_playbook(
        "Below 50", trigger=Playbook.Trigger.SCORE_BELOW, score_threshold=50, cooldown_days=0
    )
    alice, bob, charlie = book["alice"], book["bob"], book["charlie"]
    score_each({alice: 6, bob: 6, charlie: 12}, at=NOW - dt.timedelta(days=1))  # 30, 30, 60

    assert state_triggers_evaluate(now=NOW).runs == 2
    assert state_triggers_evaluate(now=NOW + dt.timedelta(hours=1)).runs == 0
    # The next recompute is a new computation for every account: with no cooldown, the
    # accounts still below 50 fire again (which is what a cooldown is for).
    score(alice, 7, at=NOW + dt.timedelta(days=1))
    assert state_triggers_evaluate(now=NOW + dt.timedelta(days=1, hours=1)).runs == 2
    assert [a for a, _ in runs_for(playbook)] == ["acme", "acme", "borealis", "borealis"]


def test_a_playbook_saved_without_its_trigger_setting_is_refused_by_name(usage, book):
    # Playbook.clean asks for the drop; a row written around it (a bulk load, the shell)
    # stops the evaluation with the setting named, not with a comparison against None.
    make_playbook("Dropped", trigger=Playbook.Trigger.SCORE_DROPPED, within_days=7)
    score(book["alice"], 6, at=NOW)

    with pytest.raises(ValueError, match="has no drop_points; its trigger needs one"):
        state_triggers_evaluate(now=NOW)


def test_cooldown_keeps_a_playbook_to_one_run_per_account_per_window(usage, book):
    playbook = make_playbook(
        "Below 50", trigger=Playbook.Trigger.SCORE_BELOW, score_threshold=50, cooldown_days=7
    )
    alice = book["alice"]
    score(alice, 6, at=NOW)
    assert state_triggers_evaluate(now=NOW).runs == 1

    for day in (1, 3, 6):
        score(alice, 6 + day / 10, at=NOW + dt.timedelta(days=day))
        assert state_triggers_evaluate(now=NOW + dt.timedelta(days=day, hours=1)).runs == 0

    score(alice, 7, at=NOW + dt.timedelta(days=8))
    assert state_triggers_evaluate(now=NOW + dt.timedelta(days=8, hours=1)).runs == 1
    assert len(runs_for(playbook)) == 2


def test_cooldown_applies_between_events_of_one_batch(usage, book):
    """Two recomputes' band changes processed together: the second falls in the cooldown."""
    playbook = make_playbook(cooldown_days=30)
    alice = book["alice"]
    healthy_then(alice, 6, at=NOW - dt.timedelta(days=2))
    score(alice, 18, at=NOW - dt.timedelta(days=1))
    score(alice, 6, at=NOW)
    assert ScoreEvent.objects.filter(kind="band_changed", to_band__name="At-risk").count() == 2

    score_events_process(now=NOW)

    first = ScoreEvent.objects.filter(kind="band_changed", to_band__name="At-risk").order_by("id")[
        0
    ]
    assert runs_for(playbook) == [("acme", f"score_event:{first.pk}")]


# --- Renewal within ---------------------------------------------------------------------------


def test_renewal_within_days_while_not_healthy(usage, book):
    playbook = make_playbook(
        "Renewal risk",
        trigger=Playbook.Trigger.RENEWAL_WITHIN,
        renewal_days=90,
        band_names="Healthy",
        band_names_exclude=True,
        cooldown_days=0,
    )
    alice, bob, charlie = book["alice"], book["bob"], book["charlie"]
    renewal = TODAY + dt.timedelta(days=60)
    Account.objects.filter(pk__in=[alice.pk, bob.pk]).update(renewal_date=renewal)
    Account.objects.filter(pk=charlie.pk).update(renewal_date=TODAY + dt.timedelta(days=200))
    score_each({alice: 12, bob: 18, charlie: 18}, at=NOW - dt.timedelta(hours=1))

    assert state_triggers_evaluate(now=NOW).runs == 1
    assert runs_for(playbook) == [("acme", f"renewal:{renewal.isoformat()}")]
    assert state_triggers_evaluate(now=NOW + dt.timedelta(days=1)).runs == 0


def test_renewal_within_days_in_named_bands(usage, book):
    playbook = make_playbook(
        "Renewal of at-risk",
        trigger=Playbook.Trigger.RENEWAL_WITHIN,
        renewal_days=30,
        band_names="At-risk, Neutral",
    )
    Account.objects.update(renewal_date=TODAY + dt.timedelta(days=10))
    score_each({book["alice"]: 6, book["bob"]: 18}, at=NOW - dt.timedelta(hours=1))

    state_triggers_evaluate(now=NOW)

    assert [a for a, _ in runs_for(playbook)] == ["acme"]


# --- Metric threshold -----------------------------------------------------------------------


def test_a_metric_crossing_its_threshold_fires_once_per_crossing(book):
    tickets = make_metric("open_tickets")
    playbook = make_playbook(
        "Ticket surge",
        trigger=Playbook.Trigger.METRIC_THRESHOLD,
        metric=tickets,
        direction=Playbook.Direction.ABOVE,
        threshold=5,
    )
    alice, bob = book["alice"], book["bob"]
    add_signal(
        alice, tickets, 3, NOW - dt.timedelta(days=2), created_at=NOW - dt.timedelta(hours=3)
    )
    crossing = add_signal(
        alice, tickets, 8, NOW - dt.timedelta(hours=2), created_at=NOW - dt.timedelta(hours=2)
    )
    add_signal(bob, tickets, 7, NOW - dt.timedelta(days=2), created_at=NOW - dt.timedelta(hours=3))
    add_signal(bob, tickets, 9, NOW - dt.timedelta(hours=2), created_at=NOW - dt.timedelta(hours=2))

    assert state_triggers_evaluate(now=NOW).runs == 1
    assert runs_for(playbook) == [("acme", f"signal:{crossing.pk}")]
    assert PlaybookRun.objects.get().context["delta"] == "+5.0"
    assert state_triggers_evaluate(now=NOW + dt.timedelta(hours=1)).runs == 0


def test_a_metric_falling_below_its_threshold(book):
    seats = make_metric("seats_used_pct")
    playbook = make_playbook(
        "Seats falling",
        trigger=Playbook.Trigger.METRIC_THRESHOLD,
        metric=seats,
        direction=Playbook.Direction.BELOW,
        threshold=50,
    )
    add_signal(
        book["alice"], seats, 70, NOW - dt.timedelta(days=8), created_at=NOW - dt.timedelta(hours=5)
    )
    add_signal(
        book["alice"], seats, 40, NOW - dt.timedelta(days=1), created_at=NOW - dt.timedelta(hours=5)
    )
    add_signal(
        book["bob"], seats, 60, NOW - dt.timedelta(days=1), created_at=NOW - dt.timedelta(hours=5)
    )

    state_triggers_evaluate(now=NOW)

    assert [a for a, _ in runs_for(playbook)] == ["acme"]


# --- Account created --------------------------------------------------------------------------


def test_a_new_account_fires_the_welcome_playbook_once(book):
    playbook = make_playbook("Welcome", trigger=Playbook.Trigger.ACCOUNT_CREATED)
    Account.objects.update(created_at=NOW - dt.timedelta(days=3))
    new = AccountFactory(external_id="newco", owner=book["alice"].owner)
    Account.objects.filter(pk=new.pk).update(created_at=NOW - dt.timedelta(hours=2))

    assert state_triggers_evaluate(now=NOW).runs == 1
    assert state_triggers_evaluate(now=NOW + dt.timedelta(minutes=30)).runs == 0
    assert runs_for(playbook) == [("newco", f"account_created:{new.pk}")]


# --- Conditions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "matching"),
    [
        ({"segment": "enterprise"}, ["acme"]),
        ({"plan": "Scale"}, ["borealis"]),
        ({"lifecycle_stage": "renewing"}, ["cobalt"]),
        ({"arr_min": Decimal("50000")}, ["acme", "borealis"]),
        ({"arr_max": Decimal("50000")}, ["borealis", "cobalt"]),
        ({"arr_min": Decimal("20000"), "arr_max": Decimal("60000")}, ["borealis"]),
        ({"owner_team": "SMB"}, ["cobalt"]),
        ({}, ["acme", "borealis", "cobalt"]),
    ],
    ids=["segment", "plan", "stage", "arr-min", "arr-max", "arr-range", "owner-team", "none"],
)
def test_each_condition_narrows_the_accounts(usage, book, condition, matching):
    from accounts.models import Team

    if "owner_team" in condition:
        condition = {"owner_team": Team.objects.get(name=condition["owner_team"])}
    Account.objects.filter(pk=book["alice"].pk).update(segment="enterprise", arr=100000)
    Account.objects.filter(pk=book["bob"].pk).update(plan="Scale", arr=50000)
    Account.objects.filter(pk=book["charlie"].pk).update(lifecycle_stage="renewing", arr=5000)
    event_playbook = make_playbook("On band change", **condition)
    state_playbook = make_playbook(
        "On low score", trigger=Playbook.Trigger.SCORE_BELOW, score_threshold=50, **condition
    )
    healthy_then(list(book.values()), 6)

    score_events_process(now=NOW)
    state_triggers_evaluate(now=NOW)

    assert [a for a, _ in runs_for(event_playbook)] == matching
    assert [a for a, _ in runs_for(state_playbook)] == matching


# --- Many events at once ----------------------------------------------------------------------


def test_a_batch_costs_the_same_few_queries_whatever_its_size(usage, alice):
    make_playbook("At-risk call", steps=[{"kind": "create_task", "task_title": "Call"}])
    make_playbook(
        "Dropped 30", trigger=Playbook.Trigger.SCORE_DROPPED, drop_points=30, within_days=7
    )
    few = AccountFactory.create_batch(3, owner=alice)
    healthy_then(few, 6)
    with CaptureQueriesContext(connection) as small:
        score_events_process(now=NOW)

    many = AccountFactory.create_batch(60, owner=alice)
    healthy_then(many, 6, at=NOW + dt.timedelta(days=2))
    with CaptureQueriesContext(connection) as large:
        result = score_events_process(now=NOW + dt.timedelta(days=2))

    assert (result.events, result.runs) == (120, 120)
    assert statements(large) == statements(small) <= 15


def statements(captured: CaptureQueriesContext) -> int:
    """The statements of a batch, a bulk insert counted once: SQLite takes at most 999
    parameters a statement, so Django splits a large one into several."""
    count, previous = 0, ""
    for query in captured.captured_queries:
        sql = query["sql"]
        head = sql[: sql.find("(")] if sql.startswith("INSERT") else sql
        count += not (sql.startswith("INSERT") and head == previous)
        previous = head
    return count


def test_the_limit_takes_the_oldest_events_first_and_the_rest_later(usage, alice):
    make_playbook()
    accounts = AccountFactory.create_batch(5, owner=alice)
    healthy_then(accounts, 6)

    first = score_events_process(now=NOW, limit=4)
    rest = score_events_process_all(now=NOW, limit=4)

    assert (first.events, rest.events) == (4, 6)
    assert PlaybookRun.objects.count() == 5
    assert step_runs_due_execute(now=NOW) == 5
    assert Task.objects.count() == 5
