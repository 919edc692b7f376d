"""Work that closes itself: when an account recovers out of the level that fired a run,
or churns, and when a snooze is over.

- ``work_close_on_recovery``: a confirmed band change to a better level (not a
  re-baseline) ends the runs caused by a worse level. Per playbook (``on_recovery``):
  *close* resolves their open tasks ("Resolved: back to Healthy on 12 Nov") and stops
  their waiting steps; *notify* leaves the tasks open, notes the recovery on them and
  emails the assignee; *keep* does nothing.
- ``work_close_for_churned``: an account that has churned has no work left: its open
  tasks are cancelled ("Account churned on 3 Nov") and its running runs stop.
- ``tasks_wake``: a snoozed task whose day has come is open again, due that day.

Each is set-based and idempotent: running it again finds nothing left to close.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q

from accounts.models import RISK_ORDER
from accounts.selectors import churned_q
from playbooks import matching
from playbooks.models import Delivery, Note, Playbook, PlaybookRun, Task
from playbooks.services.outbound import delivery_enqueue, email_payload
from playbooks.services.telling import playbook_note_notify
from scoring.models import ScoreEvent


def _day(value: dt.date) -> str:
    return f"{value.day} {value:%b}"


def _recovered(ev: ScoreEvent) -> bool:
    return (
        ev.kind == ScoreEvent.Kind.BAND_CHANGED
        and not ev.rebaseline
        and bool(ev.from_level)
        and bool(ev.to_level)
        and RISK_ORDER[ev.to_level] < RISK_ORDER[ev.from_level]
    )


def work_close_on_recovery(
    *, events: Iterable[ScoreEvent], now: dt.datetime, dispatch: bool = True
) -> int:
    """Apply each playbook's ``on_recovery`` to the runs these confirmed band changes end
    (``events`` with their bands and account loaded). A run ends when the account's new
    level is better than the run's level and the run came before the event. Returns how
    many tasks were resolved or notified. Three queries, and one per notified task."""
    recoveries = [ev for ev in events if _recovered(ev)]
    if not recoveries:
        return 0
    runs_by_account: dict[int, list[PlaybookRun]] = defaultdict(list)
    for run in (
        PlaybookRun.objects.filter(account_id__in={ev.account_id for ev in recoveries})
        .exclude(level="")
        .exclude(playbook__on_recovery=Playbook.OnRecovery.KEEP)
        .exclude(status__in=[*PlaybookRun.QUIET, PlaybookRun.Status.RESOLVED])
        .select_related("playbook")
    ):
        runs_by_account[run.account_id].append(run)
    ended: dict[int, tuple[PlaybookRun, ScoreEvent]] = {}
    for ev in sorted(recoveries, key=lambda e: e.pk):
        for run in runs_by_account.get(ev.account_id, []):
            earlier = run.score_event_id is None or run.score_event_id < ev.pk
            if earlier and RISK_ORDER[ev.to_level] < RISK_ORDER[run.level]:
                ended.setdefault(run.pk, (run, ev))
    if not ended:
        return 0
    tasks = list(
        Task.objects.filter(
            Q(origin_step_run__run_id__in=list(ended)), status__in=Task.ACTIVE
        ).select_related("assignee", "account", "origin_step_run")
    )
    count = 0
    for task in tasks:
        step_run = task.origin_step_run
        if step_run is None:  # never: the query asks for a task of a run
            continue
        run, ev = ended[step_run.run_id]
        to_band = ev.to_band.name if ev.to_band is not None else "no band"
        back = f"back to {to_band} on {_day(matching.local_today(ev.created_at))}"
        if run.playbook.on_recovery == Playbook.OnRecovery.CLOSE:
            task.status, task.snoozed_until = Task.Status.RESOLVED, None
            task.closed_at, task.close_reason = now, f"Resolved: {back}"
            task.save(update_fields=["status", "snoozed_until", "closed_at", "close_reason"])
        else:
            _notify(
                task=task,
                playbook=run.playbook,
                back=back,
                key=f"recovery:{task.pk}:{ev.pk}",
                now=now,
                dispatch=dispatch,
            )
        count += 1
    closing = [pk for pk, (run, _) in ended.items() if run.playbook.on_recovery == "close"]
    PlaybookRun.objects.filter(pk__in=closing, status=PlaybookRun.Status.RUNNING).update(
        status=PlaybookRun.Status.RESOLVED, finished_at=now
    )
    return count


def _notify(
    *, task: Task, playbook: Playbook, back: str, key: str, now: dt.datetime, dispatch: bool
) -> None:
    """Tell a task's assignee that its account recovered: a note on the task, and an
    email when they have an address (once per task and event: the delivery's key)."""
    text = f"{task.account.name} recovered: {back}. This task may no longer be needed."
    if not Note.objects.filter(task=task, body=text).exists():
        note = Note.objects.create(account=task.account, task=task, body=text, created_at=now)
        playbook_note_notify(note=note, task=task, now=now)
    person = task.assignee
    if person is None or not person.email:
        return
    delivery_enqueue(
        channel=Delivery.Channel.EMAIL,
        target=person.email,
        event="task.recovered",
        payload=email_payload(
            subject=f"{task.account.name} recovered",
            body=f"{text}\n\nTask: {task.title}",
            context={"account": task.account, "playbook": playbook, "site_name": "Vitals"},
        ),
        key=key,
        now=now,
        account=task.account,
        dispatch=dispatch,
    )


def work_close_for_churned(*, now: dt.datetime, account_ids: list[int] | None = None) -> int:
    """Cancel the open tasks of accounts that have churned ("Account churned on 3 Nov")
    and stop their running runs (of ``account_ids`` only, when given: a churn just
    recorded). Returns how many tasks were closed."""
    today = matching.local_today(now)
    gone = churned_q(on=today, prefix="account__")
    if account_ids is not None:
        gone &= Q(account_id__in=account_ids)
    closed = 0
    days = (
        Task.objects.filter(gone, status__in=Task.ACTIVE)
        .values_list("account__churned_at", flat=True)
        .distinct()
    )
    for day in list(days):
        if day is None:  # never: a churned account has its churn date
            continue
        closed += Task.objects.filter(gone, status__in=Task.ACTIVE, account__churned_at=day).update(
            status=Task.Status.CANCELLED,
            snoozed_until=None,
            closed_at=now,
            close_reason=f"Account churned on {_day(day)}",
        )
    PlaybookRun.objects.filter(gone, status=PlaybookRun.Status.RUNNING).update(
        status=PlaybookRun.Status.CANCELLED, finished_at=now
    )
    return closed


def tasks_wake(*, now: dt.datetime) -> int:
    """Snoozed tasks whose day has come are open again, due on that day."""
    today = matching.local_today(now)
    woken = 0
    for day in list(
        Task.objects.filter(status=Task.Status.SNOOZED, snoozed_until__lte=today)
        .values_list("snoozed_until", flat=True)
        .distinct()
    ):
        woken += Task.objects.filter(status=Task.Status.SNOOZED, snoozed_until=day).update(
            status=Task.Status.OPEN, due_date=day, snoozed_until=None
        )
    return woken
