"""Demo playbooks for ``seed_demo``, played through the demo's history, and today's work.

Three playbooks a CS team would start with: a call and a manager's review when an
account enters At risk or worse (whatever its model calls the band; a quarter of the
accounts under 150k ARR held out, so the effectiveness report has something to
compare; the enterprise accounts are always called), a renewal
risk review 90 days out for accounts that are not healthy, and a check-in after a fall
of 15 points.

The playbooks are switched on before the history starts and act after each scoring of
it (``scoring.demo.ON_SCORED``): band changes and drops become runs and tasks at their
moment, the CSMs complete most tasks within days, recoveries close the rest. The
accounts the at-risk playbook acted on, and those it held out, go back to the scoring
step, whose history then follows them: most accounts acted on recover, most held out
do not (the demo's stand-in for a playbook that works). Today the renewal check is
evaluated too, so the queues have work in them on first log-in and the effectiveness
report shows the playbook's effect.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from accounts.models import Account, RiskLevel
from notifications.models import Notification
from playbooks import matching
from playbooks.models import Delivery, Note, Playbook, PlaybookRun, PlaybookStep, Priority, Task
from playbooks.services import (
    playbook_backfill,
    playbook_save,
    score_events_process_all,
    state_triggers_evaluate,
    step_runs_due_execute,
    task_complete,
)
from scoring.demo import ON_SCORED

# Share of their new tasks the CSMs complete, and within how many days.
DONE_SHARE, DONE_WITHIN_DAYS = 0.75, 6

Trigger = Playbook.Trigger
Kind = PlaybookStep.Kind

AT_RISK_PLAYBOOK = "Entered At risk or worse"

DEMO_PLAYBOOKS: list[tuple[dict, list[dict]]] = [
    (
        {
            "name": AT_RISK_PLAYBOOK,
            "description": "The owner calls within two days; their manager reviews the plan. "
            "A quarter of the accounts under 150k ARR are held out to measure what the "
            "calls change.",
            "trigger": Trigger.LEVEL_ENTERED,
            "level": RiskLevel.AT_RISK,
            "or_worse": True,
            "cooldown_days": 30,
            "holdout_pct": 25,
            # The enterprise accounts (150k ARR and more) are always called.
            "holdout_arr_max": 150_000,
        },
        [
            {
                "kind": Kind.CREATE_TASK,
                "task_title": "Call {account}: now {band}",
                "task_description": "{account} moved from {previous_band} to {band} (score "
                "{score}, {delta}). Call the main contact within two days to find out what "
                "changed, and agree a recovery plan.",
                "task_priority": Priority.HIGH,
                "task_due_in_days": 2,
                "assignee_rule": PlaybookStep.Assignee.OWNER,
            },
            {
                "kind": Kind.CREATE_TASK,
                "task_title": "Review the recovery plan for {account}",
                "task_description": "{owner}'s account {account} is now {band} (score {score}). "
                "Review the recovery plan with them.",
                "task_priority": Priority.NORMAL,
                "task_due_in_days": 5,
                "assignee_rule": PlaybookStep.Assignee.OWNER_MANAGER,
            },
        ],
    ),
    (
        {
            "name": "Renewal risk review",
            "description": "Renewal within 90 days and the account is not healthy.",
            "trigger": Trigger.RENEWAL_WITHIN,
            "renewal_days": 90,
            "level_at_least": RiskLevel.NEUTRAL,
            "cooldown_days": 60,
        },
        [
            {
                "kind": Kind.CREATE_TASK,
                "task_title": "Renewal risk review: {account}",
                "task_description": "{account} renews within 90 days and is {band} (score "
                "{score}). Review usage, open tickets and the stakeholders before the "
                "renewal conversation.",
                "task_priority": Priority.HIGH,
                "task_due_in_days": 7,
                "assignee_rule": PlaybookStep.Assignee.OWNER,
            },
        ],
    ),
    (
        {
            "name": "Score dropped 15+ points",
            "description": "A fall of 15 points or more within two weeks.",
            "trigger": Trigger.SCORE_DROPPED,
            "drop_points": 15,
            "within_days": 14,
            "cooldown_days": 30,
        },
        [
            {
                "kind": Kind.CREATE_TASK,
                "task_title": "Check in with {account}",
                "task_description": "The health score of {account} is down to {score} "
                "({band}): {delta} points within two weeks. Check in and look at what moved "
                "in the scorecard.",
                "task_priority": Priority.NORMAL,
                "task_due_in_days": 3,
                "assignee_rule": PlaybookStep.Assignee.OWNER,
            },
        ],
    ),
]


@transaction.atomic
def demo_playbooks_ensure(*, since: dt.datetime) -> list[Playbook]:
    """Create or update the demo playbooks (by name) with exactly their demo steps,
    switched on ``since`` (through the playbooks' one write path). Playbooks of earlier
    demo versions are switched off."""
    playbooks = []
    for fields, steps in DEMO_PLAYBOOKS:
        existing = Playbook.objects.filter(name=fields["name"]).first()
        if existing is not None and existing.is_active:
            existing = playbook_save(playbook=existing, fields={"is_active": False}, steps=None)
        playbook = playbook_save(
            playbook=existing,
            fields={**fields, "is_active": True},
            steps=[dict(step) for step in steps],
            now=since,
        )
        playbooks.append(playbook)
    names = [fields["name"] for fields, _ in DEMO_PLAYBOOKS]
    Playbook.objects.filter(name="Became At-risk").exclude(name__in=names).update(is_active=False)
    return playbooks


def demo_playbook_data_delete(accounts) -> None:
    """The demo accounts' runs, tasks, notes, deliveries and notifications (seeding starts
    them over)."""
    Notification.objects.filter(account__in=accounts).delete()
    Delivery.objects.filter(account__in=accounts).delete()
    Note.objects.filter(account__in=accounts).delete()
    Task.objects.filter(account__in=accounts).delete()
    PlaybookRun.objects.filter(account__in=accounts).delete()


def _act(book: DemoBook, playbooks: list[Playbook], at: dt.datetime) -> dict[int, str]:
    """What the playbooks do right after the history is scored as of ``at``: runs and
    tasks from the new band changes and drops, their steps, and the CSMs completing most
    of the new tasks within a few days. Returns the accounts the at-risk playbook acted
    on and held out."""
    accounts = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    before = set(PlaybookRun.objects.filter(account__in=accounts).values_list("pk", flat=True))
    score_events_process_all(now=at, dispatch=False)
    step_runs_due_execute(now=at)
    rng = random.Random(f"{book.seed}:csms:{at:%Y-%m-%d}")
    new_tasks = Task.objects.filter(account__in=accounts, status=Task.Status.OPEN, created_at=at)
    for task in new_tasks.order_by("pk"):
        if rng.random() < DONE_SHARE:
            done_at = at + dt.timedelta(
                days=rng.randint(0, DONE_WITHIN_DAYS), hours=rng.randint(1, 8)
            )
            if done_at < book.now:
                task_complete(task=task, by=task.assignee, now=done_at, dispatch=False)
    at_risk = next(p for p in playbooks if p.name == AT_RISK_PLAYBOOK)
    return {
        account_id: "held_out" if status == PlaybookRun.Status.HELD_OUT else "acted"
        for pk, account_id, status in PlaybookRun.objects.filter(
            playbook=at_risk, account__in=accounts
        ).values_list("pk", "account_id", "status")
        if pk not in before
    }


@demo_step(name="playbooks", order=5)
def demo_playbooks_prepare_step(book: DemoBook) -> None:
    """Before the history: the demo playbooks, switched on before it starts, and what
    they do after each scoring of it (``_act``, run by the scoring step)."""
    accounts = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    demo_playbook_data_delete(accounts)
    playbooks = demo_playbooks_ensure(since=book.now - dt.timedelta(days=book.days + 1))
    book.extra.setdefault(ON_SCORED, []).append(lambda at: _act(book, playbooks, at))
    return None


@demo_step(name="playbooks and tasks", order=20)
def demo_playbooks_step(book: DemoBook) -> str:
    """Today, after the history: the renewal check (renewals already in its window when
    the demo starts included) and the steps due. Idempotent with the other playbook
    step: the demo accounts' runs and tasks are made afresh from the score history."""
    accounts = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    now = book.now
    playbooks = list(Playbook.objects.filter(name__in=[f["name"] for f, _ in DEMO_PLAYBOOKS]))
    renewal = next(p for p in playbooks if p.trigger == Trigger.RENEWAL_WITHIN)
    playbook_backfill(
        playbook=renewal,
        since=now
        - dt.timedelta(
            days=matching.trigger_setting(renewal, "renewal_days", renewal.renewal_days)
        ),
        now=now,
        dry_run=False,
        dispatch=False,
    )
    state_triggers_evaluate(now=now, playbook_ids=[p.pk for p in playbooks], dispatch=False)
    step_runs_due_execute(now=now)
    runs = PlaybookRun.objects.filter(account__in=accounts).count()
    tasks = Task.objects.filter(account__in=accounts)
    open_tasks = tasks.filter(status__in=Task.ACTIVE).count()
    return (
        f"{len(playbooks)} playbooks; {runs} runs over the history, {tasks.count()} tasks, "
        f"{open_tasks} open"
    )
