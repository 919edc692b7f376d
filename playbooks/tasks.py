"""Celery tasks of the playbooks app: thin wrappers, ids in, one service call each.

All of them are idempotent (runs, step runs, tasks and deliveries are unique in the
database and claimed under locks), which is what makes ``acks_late`` and re-delivery
after a lost worker safe. Periodic schedules live in the database (migrations 0002 and
0003). The tick and the state triggers run one at a time (``config.locks``), however
many beat processes send them; score events need no lock, being claimed row by row.
Retries follow the one policy (``config.tasking.RETRY``), countdowns far below the
broker's visibility timeout: a delivery's longer back-off is kept on its row and sent by
the tick when due.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from config.locks import run_alone
from config.tasking import RETRY, TRANSIENT, retrying
from playbooks import services

logger = logging.getLogger(__name__)

EVENT_BATCH = 1000


@shared_task(**RETRY)
def process_score_events() -> int:
    """Turn every unclaimed band change and score drop into playbook runs."""
    return services.score_events_process_all(now=timezone.now(), limit=EVENT_BATCH).runs


@shared_task(**RETRY)
def evaluate_state_triggers() -> int | None:
    """Fire the playbooks whose state triggers hold (score below, renewal, metric, …);
    None when another process is evaluating them right now."""
    result = run_alone(
        "playbooks-state-triggers", services.state_triggers_evaluate, now=timezone.now()
    )
    return None if result is None else result.runs


@shared_task(**RETRY)
def run_step(step_run_id: int) -> int:
    """Execute one due step of a playbook run (and the steps right after it that wait no
    days); a no-op if it was done already."""
    try:
        return services.step_run_execute(step_run_id=step_run_id, now=timezone.now())
    except TRANSIENT:
        raise
    except Exception as exc:
        # A bug or bad data, not a passing outage: fail the step visibly, don't loop.
        services.step_run_fail(
            step_run_id=step_run_id, error=f"{type(exc).__name__}: {exc}", now=timezone.now()
        )
        raise


@shared_task(acks_late=True)
def dispatch_due_steps() -> dict[str, int] | None:
    """The tick: send the workers the step runs that fell due (waits of N days) and the
    deliveries due again, and do the step runs and deliveries whose messages were lost
    with a worker or a broker; None when another tick is running right now."""
    return run_alone("playbooks-tick", services.due_work_dispatch, now=timezone.now())


@shared_task(**retrying(max_retries=30))
def deliver(delivery_id: int) -> str:
    """Send one delivery once. On failure the row records when to try again, with
    back-off, and the tick sends it then (the row counts the attempts and gives up after
    VITALS_DELIVERY_MAX_ATTEMPTS)."""
    return services.delivery_attempt(delivery_id=delivery_id, now=timezone.now()).result


@shared_task(**RETRY)
def notify_overdue_tasks() -> int | None:
    """Hourly: tell people of their tasks fallen overdue (once per task and due day).
    None when another process is doing it right now."""
    return run_alone("playbooks-overdue", services.overdue_notify, now=timezone.now())
