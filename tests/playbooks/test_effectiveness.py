"""Did the playbook work? Its hold-out against the accounts it acted on, with an interval
that says how sure the difference is; in admin and over the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from playbooks.effectiveness import difference_interval, playbook_effectiveness, wilson
from playbooks.models import Playbook, PlaybookRun, Task
from playbooks.services import (
    playbook_save,
    score_events_process_all,
    step_runs_due_execute,
    task_complete,
)
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.builders import NOW, score, task_step

pytestmark = pytest.mark.django_db


def test_the_interval_is_newcombes():
    """Newcombe (1998), "Interval estimation for the difference between independent
    proportions", Table II: 56/70 − 48/80 and 9/10 − 3/10 by the hybrid score method."""
    d, lower, upper = difference_interval(56, 70, 48, 80)
    assert (round(d, 4), round(lower, 4), round(upper, 4)) == (0.2, 0.0524, 0.3339)
    d, lower, upper = difference_interval(9, 10, 3, 10)
    assert (round(lower, 4), round(upper, 4)) == (0.1705, 0.809)
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert difference_interval(1, 2, 0, 0) is None


@pytest.fixture
def experiment(usage):
    """Twenty accounts enter At-risk at NOW; the playbook holds half of them out. A week
    later the accounts it acted on are Healthy again and those held out are not; their
    owner completed each task a day and a half after it came."""
    owner = UserFactory(username="olive")
    playbook = playbook_save(
        playbook=None,
        fields={
            "name": "Entered At risk",
            "is_active": True,
            "trigger": Playbook.Trigger.LEVEL_ENTERED,
            "level": "at_risk",
            "cooldown_days": 0,
            "holdout_pct": 50,
            "on_recovery": Playbook.OnRecovery.KEEP,
        },
        steps=[task_step("Call {account}")],
        now=NOW - dt.timedelta(days=30),
    )
    accounts = AccountFactory.create_batch(20, owner=owner)
    score(accounts, 18, at=NOW - dt.timedelta(days=1))
    score(accounts, 6, at=NOW)
    score_events_process_all(now=NOW, dispatch=False)
    step_runs_due_execute(now=NOW)
    for task in Task.objects.all():
        task_complete(task=task, by=owner, now=NOW + dt.timedelta(hours=36), dispatch=False)
    held = set(PlaybookRun.objects.filter(status="held_out").values_list("account_id", flat=True))
    acted = [a for a in accounts if a.pk not in held]
    score(acted, 18, at=NOW + dt.timedelta(days=7))
    return playbook, acted, held


def test_the_hold_out_shows_what_the_playbook_changed(experiment):
    playbook, acted, held = experiment
    assert 0 < len(held) < 20  # the hash holds out some, not all

    report = playbook_effectiveness(
        playbook=playbook,
        since=NOW - dt.timedelta(days=1),
        until=NOW + dt.timedelta(days=1),
        days=21,
        now=NOW + dt.timedelta(days=30),
    )

    assert (report.acted.runs, report.acted.mature, report.acted.recovered) == (
        len(acted),
        len(acted),
        len(acted),
    )
    assert (report.held_out.runs, report.held_out.recovered) == (len(held), 0)
    assert report.acted.retained == len(acted) and report.held_out.retained == len(held)
    assert report.recovered_effect.difference == 1.0
    assert report.recovered_effect.clear
    expected = difference_interval(len(acted), len(acted), 0, len(held))
    assert (report.recovered_effect.lower, report.recovered_effect.upper) == expected[1:]
    assert report.tasks["total"] == report.tasks["done"] == len(acted)
    assert report.median_days_to_done == pytest.approx(1.5)
    # Too early to judge: runs whose outcome window has not passed are not in the rates.
    early = playbook_effectiveness(
        playbook=playbook,
        since=NOW - dt.timedelta(days=1),
        until=NOW + dt.timedelta(days=1),
        days=21,
        now=NOW + dt.timedelta(days=10),
    )
    assert early.acted.mature == 0 and early.recovered_effect is None


def test_the_largest_accounts_are_never_held_out(usage):
    playbook = playbook_save(
        playbook=None,
        fields={
            "name": "Entered At risk",
            "is_active": True,
            "trigger": Playbook.Trigger.LEVEL_ENTERED,
            "level": "at_risk",
            "holdout_pct": 50,
            "holdout_arr_max": 100_000,
        },
        steps=[task_step("Call {account}")],
        now=NOW - dt.timedelta(days=30),
    )
    big = AccountFactory.create_batch(10, arr=500_000)
    score(big, 18, at=NOW - dt.timedelta(days=1))
    score(big, 6, at=NOW)
    score_events_process_all(now=NOW, dispatch=False)
    runs = PlaybookRun.objects.filter(playbook=playbook)
    assert runs.count() == 10
    assert not runs.filter(status="held_out").exists()
    assert not runs.filter(in_experiment=True).exists()


def test_admin_and_the_api_show_the_report(experiment, client_as, ada):
    playbook, acted, held = experiment
    page = client_as(ada).get(
        reverse("admin:playbooks_playbook_effectiveness", args=[playbook.pk]),
        {"since": "2026-11-19", "until": "2026-11-21", "days": 3},
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Acted on" in text and "Held out" in text
    assert page.context["report"].acted.runs == len(acted)

    _, raw = api_token_create(name="BI", scopes=["config:read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/playbooks/{playbook.pk}/effectiveness/"
    body = api.get(url, {"since": "2026-11-19", "until": "2026-11-21", "days": 3}).json()
    assert (body["acted"]["runs"], body["held_out"]["runs"], body["days"]) == (
        len(acted),
        len(held),
        3,
    )
    assert body["tasks"]["done"] == len(acted)
    bad = api.get(url, {"days": 0})
    assert bad.status_code == 400 and "days" in bad.json()["error"]["fields"]
    assert api.get("/api/v1/playbooks/999999/effectiveness/").status_code == 404


def test_a_backfill_is_counted_before_it_is_made(usage, book, client_as, ada):
    playbook = playbook_save(
        playbook=None,
        fields={
            "name": "Entered At risk",
            "is_active": True,
            "trigger": Playbook.Trigger.LEVEL_ENTERED,
            "level": "at_risk",
        },
        steps=[task_step("Call {account}")],
        now=NOW + dt.timedelta(hours=1),
    )
    score([book["alice"], book["bob"]], 18, at=NOW - dt.timedelta(days=1))
    score([book["alice"], book["bob"]], 6, at=NOW)  # before the playbook was on
    score_events_process_all(now=NOW + dt.timedelta(hours=2), dispatch=False)
    assert not PlaybookRun.objects.exists()

    url = reverse("admin:playbooks_playbook_backfill", args=[playbook.pk])
    client = client_as(ada)
    page = client.get(url, {"since": "2026-11-19"})
    assert page.context["preview"].runs == 2
    assert "Would create 2 runs" in page.content.decode()
    assert not PlaybookRun.objects.exists()

    _, raw = api_token_create(name="Ops", scopes=["config:write"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    dry = api.post(
        f"/api/v1/playbooks/{playbook.pk}/backfill/", {"since": "2026-11-19"}, format="json"
    )
    assert (dry.status_code, dry.json()["runs"], dry.json()["dry_run"]) == (200, 2, True)
    assert not PlaybookRun.objects.exists()

    client.post(url, {"since": "2026-11-19", "confirm": "on"})
    assert PlaybookRun.objects.count() == 2
    again = api.post(
        f"/api/v1/playbooks/{playbook.pk}/backfill/",
        {"since": "2026-11-19", "dry_run": False},
        format="json",
    )
    assert again.json()["runs"] == 0  # each event fires once
