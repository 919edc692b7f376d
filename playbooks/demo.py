"""Demo playbooks for ``seed_demo``, and their first runs on the demo book.

Three playbooks a CS team would start with: a call and a manager's review when an
account becomes At-risk, a renewal risk review 90 days out for accounts that are not
healthy, and a check-in after a fall of 15 points. The demo's recent band changes and
score drops (the last two weeks; older ones are history) are then processed, the
renewal check is evaluated and the steps executed in this process, so the task queues
have work in them on first log-in.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from accounts.models import Account
from playbooks.models import Delivery, Note, Playbook, PlaybookRun, PlaybookStep, Priority, Task
from playbooks.services import (
    score_events_process_all,
    state_triggers_evaluate,
    step_runs_due_execute,
)
from scoring.models import ScoreEvent

# Band changes and drops older than this are left as history rather than acted on.
RECENT = dt.timedelta(days=14)

Trigger = Playbook.Trigger
Kind = PlaybookStep.Kind

DEMO_PLAYBOOKS: list[tuple[dict, list[dict]]] = [
    (
        {
            "name": "Became At-risk",
            "description": "The owner calls within two days; their manager reviews the plan.",
            "trigger": Trigger.BAND_CHANGED,
            "to_band_name": "At-risk",
            "cooldown_days": 30,
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
            "band_names": "Healthy, Thriving, Superstar",
            "band_names_exclude": True,
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
def demo_playbooks_ensure() -> list[Playbook]:
    """Create or update the demo playbooks (by name) with exactly their demo steps."""
    playbooks = []
    for fields, steps in DEMO_PLAYBOOKS:
        name = fields["name"]
        playbook, _ = Playbook.objects.update_or_create(
            name=name, defaults={**fields, "is_active": True}
        )
        playbook.steps.all().delete()
        PlaybookStep.objects.bulk_create(
            PlaybookStep(playbook=playbook, position=position, **step)
            for position, step in enumerate(steps, start=1)
        )
        playbooks.append(playbook)
    return playbooks


def demo_playbook_data_delete(accounts) -> None:
    """The demo accounts' runs, tasks, notes and deliveries (seeding starts them over)."""
    Delivery.objects.filter(account__in=accounts).delete()
    Note.objects.filter(account__in=accounts).delete()
    Task.objects.filter(account__in=accounts).delete()
    PlaybookRun.objects.filter(account__in=accounts).delete()


@demo_step(name="playbooks and tasks", order=20)
def demo_playbooks_step(book: DemoBook) -> str:
    """``seed_demo``'s playbook step. Idempotent: the demo accounts' playbook runs and
    tasks are made afresh from the score history the scoring step just wrote."""
    accounts = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    demo_playbook_data_delete(accounts)
    playbooks = demo_playbooks_ensure()
    now = timezone.now()
    ScoreEvent.objects.filter(
        account__in=accounts,
        claimed_at__isnull=True,
        health_score__computed_at__lt=now - RECENT,
    ).update(claimed_at=now)
    events = score_events_process_all(now=now, dispatch=False)
    states = state_triggers_evaluate(
        now=now, playbook_ids=[p.pk for p in playbooks], dispatch=False
    )
    step_runs_due_execute(now=now)
    tasks = Task.objects.filter(account__in=accounts).count()
    return (
        f"{len(playbooks)} playbooks; {events.runs + states.runs} runs from the last two "
        f"weeks' band changes, score drops and coming renewals, {tasks} tasks"
    )
