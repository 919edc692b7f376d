"""An account's timeline: its score events, runs, tasks, notes and sentiment, newest
first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import Account, User
from playbooks.models import Note, PlaybookRun, Task
from scoring.formatting import format_change, format_delta
from scoring.models import CsmSentiment, ScoreEvent


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an account. ``kind`` is one of band_changed,
    score_dropped, playbook_run, task_created, task_done, note, sentiment; ``obj`` is the
    row it comes from (a ScoreEvent, PlaybookRun, Task, Note or CsmSentiment)."""

    at: dt.datetime
    kind: str
    title: str
    detail: str = ""
    actor: User | None = None
    obj: object = None


def account_timeline(*, account: Account, limit: int = 50) -> list[TimelineEntry]:
    """What happened to ``account``, newest first: confirmed band changes and score drops
    (at the time of the computation), playbook runs, tasks created, done and closed by
    Vitals, notes and CSM sentiment. Seven queries whatever the history's length: each
    source gives its newest ``limit`` entries and the merge keeps the newest ``limit``."""
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
    tasks = Task.objects.filter(account=account).select_related(
        "assignee", "created_by", "completed_by", "origin_step_run__run__playbook"
    )
    for task in tasks.order_by("-created_at", "-id")[:limit]:
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
    for task in tasks.filter(status=Task.Status.DONE, completed_at__isnull=False).order_by(
        "-completed_at", "-id"
    )[:limit]:
        if task.completed_at is None:  # never: the query asks for one
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
    for task in tasks.filter(
        status__in=[Task.Status.RESOLVED, Task.Status.CANCELLED], closed_at__isnull=False
    ).order_by("-closed_at", "-id")[:limit]:
        if task.closed_at is None:  # never: the query asks for one
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
    for sentiment in (
        CsmSentiment.objects.filter(account=account)
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    ):
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
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
