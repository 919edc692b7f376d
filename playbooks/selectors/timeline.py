"""An account's timeline: its score events, runs, tasks, notes, sentiment, touches and
renewal outcomes, newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import Account, User
from contacts.models import Touch
from contacts.selectors import account_touches_named
from playbooks.models import Note, PlaybookRun, Task
from playbooks.selectors.tasks import account_task_rows
from renewals.models import RenewalOutcome
from scoring.formatting import format_change, format_delta
from scoring.models import CsmSentiment, ScoreEvent
from scoring.selectors import sentiments_recent

# How many entries the account page's timeline shows.
TIMELINE_LENGTH = 50


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an account. ``kind`` is one of band_changed,
    score_dropped, playbook_run, task_created, task_done, note, sentiment, touch, outcome;
    ``obj`` is the row it comes from (a ScoreEvent, PlaybookRun, Task, Note, CsmSentiment,
    Touch or RenewalOutcome)."""

    at: dt.datetime
    kind: str
    title: str
    detail: str = ""
    actor: User | None = None
    obj: object = None


def _newest(tasks: list[Task], at: str, limit: int) -> list[Task]:
    """The ``limit`` tasks with the latest ``at`` (then the highest id), newest first."""
    dated = [task for task in tasks if getattr(task, at) is not None]
    return sorted(dated, key=lambda task: (getattr(task, at), task.pk), reverse=True)[:limit]


def account_timeline(
    *,
    account: Account,
    limit: int = TIMELINE_LENGTH,
    tasks: list[Task] | None = None,
    sentiments: list[CsmSentiment] | None = None,
) -> list[TimelineEntry]:
    """What happened to ``account``, newest first: confirmed band changes and score drops
    (at the time of the computation), playbook runs, tasks created, done and closed by
    Vitals, notes, CSM sentiment, touches logged and renewal outcomes. Seven queries
    whatever the history's length: each
    source gives its newest ``limit`` entries and the merge keeps the newest ``limit``.

    ``tasks`` (``account_task_rows`` with the same ``limit``) and ``sentiments``
    (``sentiments_recent``, newest first, at least ``limit`` of them when there are) are
    rows the account page read already for its task list and its sentiment card: given,
    they save their queries (four then)."""
    if tasks is None:
        tasks = account_task_rows(account=account, limit=limit)
    if sentiments is None:
        sentiments = sentiments_recent(account=account, limit=limit)
    entries: list[TimelineEntry] = []
    events = (
        ScoreEvent.objects.filter(account=account)
        .select_related("from_band", "to_band", "health_score")
        .order_by("-health_score__computed_at", "-id")[:limit]
    )
    for ev in events:
        at = ev.health_score.computed_at
        if ev.kind == ScoreEvent.Kind.BAND_CHANGED:
            before = ev.from_band.name if ev.from_band is not None else "no band"
            after = ev.to_band.name if ev.to_band is not None else "no band"
            why = " (a new model version: re-baseline)" if ev.rebaseline else ""
            entries.append(
                TimelineEntry(
                    at,
                    "band_changed",
                    f"Band changed: {before} → {after}{why}",
                    f"Score {format_change(ev.score_before, ev.score_after)}",
                    obj=ev,
                )
            )
        else:
            entries.append(
                TimelineEntry(
                    at,
                    "score_dropped",
                    f"Score dropped {format_delta(ev.delta)}",
                    f"Score {format_change(ev.score_before, ev.score_after)}",
                    obj=ev,
                )
            )
    for run in (
        PlaybookRun.objects.filter(account=account)
        .select_related("playbook")
        .order_by("-created_at", "-id")[:limit]
    ):
        entries.append(
            TimelineEntry(
                run.created_at,
                "playbook_run",
                f"Playbook “{run.playbook.name}” fired",
                f"{run.playbook.describe_trigger()} · {run.get_status_display().lower()}",
                obj=run,
            )
        )
    for task in _newest(tasks, "created_at", limit):
        origin = (
            f"from playbook “{task.origin_step_run.run.playbook.name}”"
            if task.origin_step_run is not None
            else "added by hand"
        )
        who = str(task.assignee) if task.assignee_id else "nobody"
        entries.append(
            TimelineEntry(
                task.created_at,
                "task_created",
                f"Task created: {task.title}",
                f"For {who}, due {task.due_date:%d %b %Y} · {origin}",
                actor=task.created_by,
                obj=task,
            )
        )
    done = [task for task in tasks if task.status == Task.Status.DONE]
    for task in _newest(done, "completed_at", limit):
        if task.completed_at is None:  # never: _newest keeps the dated ones
            continue
        entries.append(
            TimelineEntry(
                task.completed_at,
                "task_done",
                f"Task done: {task.title}",
                actor=task.completed_by,
                obj=task,
            )
        )
    closed = [t for t in tasks if t.status in (Task.Status.RESOLVED, Task.Status.CANCELLED)]
    for task in _newest(closed, "closed_at", limit):
        if task.closed_at is None:  # never: _newest keeps the dated ones
            continue
        entries.append(
            TimelineEntry(
                task.closed_at,
                "task_closed",
                f"Task {task.get_status_display().lower()}: {task.title}",
                task.close_reason,
                obj=task,
            )
        )
    for note in (
        Note.objects.filter(account=account)
        .select_related("author", "task")
        .order_by("-created_at", "-id")[:limit]
    ):
        about = f" (on “{note.task.title}”)" if note.task is not None else ""
        entries.append(
            TimelineEntry(
                note.created_at, "note", f"Note{about}", note.body, actor=note.author, obj=note
            )
        )
    for sentiment in sentiments[:limit]:
        entries.append(
            TimelineEntry(
                sentiment.created_at,
                "sentiment",
                f"CSM sentiment {sentiment.value}/5",
                sentiment.note,
                actor=sentiment.author,
                obj=sentiment,
            )
        )
    for touch in account_touches_named(account=account, limit=limit):
        entries.append(
            TimelineEntry(
                touch.at, "touch", touch_title(touch), touch.note, actor=touch.by, obj=touch
            )
        )
    for outcome in (
        RenewalOutcome.objects.filter(account=account)
        .select_related("recorded_by")
        .order_by("-recorded_at", "-id")[:limit]
    ):
        arr = f"ARR {outcome.arr_before:,.0f} → {outcome.arr_after:,.0f}"
        entries.append(
            TimelineEntry(
                outcome.recorded_at,
                "outcome",
                f"Renewal: {outcome.get_kind_display().lower()} "
                f"(due {outcome.renewal_date:%d %b %Y})",
                "\n".join(filter(None, [arr, outcome.note])),
                actor=outcome.recorded_by,
                obj=outcome,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def touch_title(touch: Touch) -> str:
    """ "Call with Jane Doe (Champion) and Lee Berg" (``people``: account_touches_named)."""
    people: list[str] = getattr(touch, "people", [])
    if not people:
        return touch.get_kind_display()
    names = people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]
    return f"{touch.get_kind_display()} with {names}"
