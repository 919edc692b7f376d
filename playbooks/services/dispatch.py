"""The periodic tick: due step runs and deliveries sent to the workers, and what a lost
message left behind done here (see ``due_work_dispatch``)."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import transaction

from config.tasking import TRANSIENT, each, send_on_commit
from playbooks.models import Delivery, PlaybookRun, PlaybookStepRun
from playbooks.services.closing import tasks_wake, work_close_for_churned
from playbooks.services.outbound import delivery_attempt
from playbooks.services.steps import step_run_execute, step_run_fail

# Step runs sent per tick at most (SQLite caps the parameters of a query).
DISPATCH_BATCH = 5000
# Stale rows claimed at a time by the tick's drain: few, so that a tick cut off by a
# killed worker leaves few rows waiting VITALS_PLAYBOOK_REDISPATCH_AFTER once more.
DRAIN_BATCH = 10


def _claim_stale(queryset, *, now: dt.datetime, limit: int) -> list[int]:
    """Ids of up to ``limit`` rows of ``queryset``, marked dispatched now in the same
    transaction (``SKIP LOCKED``: concurrent ticks take different rows)."""
    with transaction.atomic():
        ids = list(
            queryset.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                :limit
            ]
        )
        queryset.model.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids


def due_work_dispatch(
    *,
    now: dt.datetime,
    redispatch_after: int | None = None,
    drain_seconds: float | None = None,
    send_limit: int = DISPATCH_BATCH,
) -> dict[str, int]:
    """The periodic tick. Steps:

    1. step runs whose wait is over and that were never sent, and deliveries due again
       after a failed attempt: send them to the workers (at most ``send_limit`` of each,
       oldest first; the rest next tick);
    2. step runs and deliveries sent more than ``redispatch_after`` seconds ago and not
       handled yet — their message was lost with a worker or a restarted broker, or is
       stuck behind a long queue: do them here, batch by batch, for ``drain_seconds`` at
       most. Nothing is re-sent, so a long queue never grows by re-sending; a message
       still queued for a row done here finds it done and does nothing.

    Also each tick: the open tasks of accounts that churned are closed, and snoozes
    whose day has come wake (``playbooks.services.closing``).

    Returns the counts: steps_sent, steps_executed, deliveries_attempted, tasks_closed,
    tasks_woken.
    """
    if redispatch_after is None:
        redispatch_after = settings.VITALS_PLAYBOOK_REDISPATCH_AFTER
    if drain_seconds is None:
        drain_seconds = settings.VITALS_PLAYBOOK_DRAIN_SECONDS
    counts = {
        "steps_sent": 0,
        "steps_executed": 0,
        "deliveries_attempted": 0,
        "tasks_closed": work_close_for_churned(now=now),
        "tasks_woken": tasks_wake(now=now),
    }
    due_steps = PlaybookStepRun.objects.filter(
        status=PlaybookStepRun.Status.WAITING,
        due_at__lte=now,
        run__status=PlaybookRun.Status.RUNNING,
    ).order_by("due_at", "pk")

    fresh = _claim_stale(due_steps.filter(dispatched_at__isnull=True), now=now, limit=send_limit)
    # If the broker is down, the rows count as stale later and are drained here then.
    send_on_commit("playbooks.tasks.run_step", each(fresh))
    counts["steps_sent"] = len(fresh)
    pending = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now
    ).exclude(endpoint__paused_at__isnull=False)  # a paused endpoint's deliveries wait
    retries = pending.filter(dispatched_at__isnull=True).order_by("next_attempt_at", "pk")
    send_on_commit(
        "playbooks.tasks.deliver", each(_claim_stale(retries, now=now, limit=send_limit))
    )

    stale = now - dt.timedelta(seconds=redispatch_after)
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        ids = _claim_stale(due_steps.filter(dispatched_at__lt=stale), now=now, limit=DRAIN_BATCH)
        for step_run_id in ids:
            try:
                counts["steps_executed"] += step_run_execute(step_run_id=step_run_id, now=now)
            except TRANSIENT:
                raise
            except Exception as exc:
                step_run_fail(
                    step_run_id=step_run_id, error=f"{type(exc).__name__}: {exc}", now=now
                )
        if len(ids) < DRAIN_BATCH:
            break
    due_deliveries = pending.filter(dispatched_at__lt=stale).order_by("next_attempt_at", "pk")
    while time.monotonic() < deadline:
        ids = _claim_stale(due_deliveries, now=now, limit=DRAIN_BATCH)
        for delivery_id in ids:
            outcome = delivery_attempt(delivery_id=delivery_id, now=now)
            counts["deliveries_attempted"] += outcome.result != "skipped"
        if len(ids) < DRAIN_BATCH:
            break
    return counts
