""" "A renewal outcome was recorded" as a playbook trigger: once per outcome of the
playbook's kinds at the periodic check, however often it runs, with its dry run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from playbooks.models import Playbook, PlaybookRun, Task
from playbooks.services import playbook_save, state_triggers_evaluate, step_runs_due_execute
from renewals.services import outcome_record
from tests.playbooks.builders import task_step

pytestmark = pytest.mark.django_db


def test_an_outcome_of_the_playbooks_kinds_fires_it_once(book):
    now = timezone.now()
    playbook = playbook_save(
        playbook=None,
        fields={"name": "Lost ARR review", "trigger": "outcome_recorded",
                "outcome_kinds": "downgraded, churned", "cooldown_days": 0, "is_active": True},
        steps=[task_step("Review the loss at {account}")],
        now=now - dt.timedelta(days=1),
    )  # fmt: skip
    outcome_record(account=book["bob"], kind="renewed", now=now)
    state_triggers_evaluate(now=now + dt.timedelta(minutes=1), dispatch=False)
    assert not PlaybookRun.objects.exists()  # a renewal is not one of its kinds

    lost = outcome_record(account=book["alice"], kind="downgraded", arr_after=6000, now=now)
    for minutes in (2, 3):  # the periodic check, twice
        state_triggers_evaluate(now=now + dt.timedelta(minutes=minutes), dispatch=False)
    [run] = PlaybookRun.objects.all()
    assert (run.playbook, run.account, run.event_key) == (
        playbook, book["alice"], f"outcome:{lost.pk}",
    )  # fmt: skip
    step_runs_due_execute(now=now + dt.timedelta(minutes=4))
    assert Task.objects.get().title == "Review the loss at Acme Analytics"
    assert playbook.describe_trigger() == "renewal outcome recorded (downgraded or churned)"


def test_its_kinds_must_be_outcomes(db):
    playbook = Playbook(name="x", trigger="outcome_recorded", outcome_kinds="renewed, sold")
    with pytest.raises(Exception) as refused:
        playbook.clean()
    assert refused.value.message_dict["outcome_kinds"] == [
        "Not an outcome: sold (one of: renewed, expanded, downgraded, churned)."
    ]


def test_the_dry_run_says_which_outcome_would_fire_it(book):
    from playbooks.dryrun import playbook_dry_run

    now = timezone.now()
    playbook = playbook_save(
        playbook=None,
        fields={"name": "Expansion thanks", "trigger": "outcome_recorded",
                "outcome_kinds": "expanded", "cooldown_days": 0, "is_active": True},
        steps=[task_step("Thank {account}")],
        now=now - dt.timedelta(days=1),
    )  # fmt: skip
    before = playbook_dry_run(playbook=playbook, account=book["alice"], now=now)
    assert (before.trigger_matched, before.trigger_detail) == (
        False, "No expanded outcome recorded in the last 7 days.",
    )  # fmt: skip
    grown = outcome_record(account=book["alice"], kind="expanded", arr_after=20000, now=now)
    after = playbook_dry_run(playbook=playbook, account=book["alice"], now=now)
    assert after.trigger_matched and after.event_key == f"outcome:{grown.pk}"
    assert after.trigger_detail == "Expanded at the renewal of 2027-01-01 (ARR 12,000 → 20,000)"
