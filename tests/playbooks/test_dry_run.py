"""The dry run: what a playbook would do for one account, with nothing created — and the
same answer the real evaluation then gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from playbooks.dryrun import TRIGGER_CHECKS
from playbooks.models import Playbook, PlaybookRun
from playbooks.selectors import playbook_dry_run
from playbooks.services import score_events_process, state_triggers_evaluate
from tests.playbooks.builders import NOW, TODAY, healthy_then, make_playbook, score_each, task_step

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


def test_a_dry_run_predicts_the_tasks_and_creates_nothing(usage, book):
    playbook = make_playbook(
        steps=[
            task_step("Call {account} ({band}, {delta})", task_priority="high", task_due_in_days=2),
            task_step("Review {account}", assignee_rule="owner_manager", task_due_in_days=5),
            {
                "kind": "send_email",
                "email_to": "owner",
                "email_subject": "{account}",
                "email_body": "x",
                "wait_days": 3,
            },
        ]
    )
    healthy_then(book["alice"], 6)

    with CaptureQueriesContext(connection) as queries:
        dry = playbook_dry_run(playbook=playbook, account=book["alice"], now=NOW)

    assert not [
        q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)
    ]
    assert not PlaybookRun.objects.exists()
    assert dry.would_fire
    assert dry.trigger_detail.startswith("Latest confirmed band change: Healthy → At-risk")
    assert [(s.creates, s.details, s.runs_at) for s in dry.steps] == [
        (
            "Task “Call Acme Analytics (At-risk, −60.0)”",
            [("Assignee", "Alice"), ("Priority", "High"), ("Due", f"{TODAY + dt.timedelta(2)}")],
            NOW,
        ),
        (
            "Task “Review Acme Analytics”",
            [("Assignee", "Maggie"), ("Priority", "Normal"), ("Due", f"{TODAY + dt.timedelta(5)}")],
            NOW,
        ),
        ("Email “Acme Analytics”", [("To", "alice@example.com")], NOW + dt.timedelta(days=3)),
    ]

    # The real thing agrees; afterwards the dry run says it has fired.
    assert score_events_process(now=NOW).runs == 1
    run = PlaybookRun.objects.get()
    assert run.event_key == dry.event_key
    after = playbook_dry_run(playbook=playbook, account=book["alice"], now=NOW)
    assert after.already_fired and not after.would_fire


def test_a_dry_run_says_which_condition_and_cooldown_stop_it(usage, book):
    playbook = make_playbook(
        trigger=Playbook.Trigger.SCORE_BELOW,
        score_threshold=50,
        segment="enterprise",
        cooldown_days=30,
    )
    score_each({book["alice"]: 6}, at=NOW - dt.timedelta(hours=1))

    dry = playbook_dry_run(playbook=playbook, account=book["alice"], now=NOW)

    assert dry.trigger_matched and dry.trigger_detail == "Score 30.0 (fires below 50)"
    assert [(c.label, c.wanted, c.actual, c.ok) for c in dry.conditions] == [
        ("Segment", "Enterprise", "SMB", False)
    ]
    assert not dry.would_fire
    assert state_triggers_evaluate(now=NOW).runs == 0  # the real evaluation agrees

    Account.objects.filter(pk=book["alice"].pk).update(segment="enterprise")
    book["alice"].refresh_from_db()
    assert playbook_dry_run(playbook=playbook, account=book["alice"], now=NOW).would_fire
    assert state_triggers_evaluate(now=NOW).runs == 1

    score_each({book["alice"]: 5}, at=NOW + dt.timedelta(days=1))
    later = playbook_dry_run(
        playbook=playbook, account=book["alice"], now=NOW + dt.timedelta(days=1)
    )
    assert later.trigger_matched and not later.already_fired
    assert not later.cooldown_ok
    assert later.cooldown_detail.endswith(
        f"cooling down until {NOW + dt.timedelta(days=30):%Y-%m-%d %H:%M}"
    )
    assert not later.would_fire


def test_a_dry_run_shows_the_problem_a_step_would_hit(usage):
    from tests.factories import AccountFactory

    orphan = AccountFactory(owner=None, name="Orphan Co")
    playbook = make_playbook(
        trigger=Playbook.Trigger.ACCOUNT_CREATED,
        steps=[{"kind": "send_email", "email_subject": "Welcome", "email_body": "Hi"}],
    )

    dry = playbook_dry_run(playbook=playbook, account=orphan, now=orphan.created_at)

    assert dry.would_fire
    assert dry.steps[0].problem == "Orphan Co has no owner to email."


def test_the_dry_run_checks_every_kind_of_trigger():
    assert set(TRIGGER_CHECKS) == set(Playbook.Trigger.values)
