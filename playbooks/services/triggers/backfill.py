"""A backfill: a playbook acting on the events before it was switched on, after a dry
run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from playbooks import matching
from playbooks.models import Playbook
from playbooks.services.triggers.events import event_candidates, events_loaded
from playbooks.services.triggers.runs import Candidate, runs_plan
from playbooks.services.triggers.states import state_candidates, state_runs_create
from scoring.models import ScoreEvent


@dataclass(frozen=True)
class Backfill:
    """What a backfill did (or, as a dry run, would do): events considered, runs."""

    playbook: Playbook
    since: dt.datetime
    until: dt.datetime | None
    events: int
    runs: int
    dry_run: bool


def playbook_backfill(
    *, playbook: Playbook, since: dt.datetime, now: dt.datetime, dry_run: bool, dispatch=True
) -> Backfill:
    """Act on the events a playbook missed before it was enabled: from ``since`` up to
    ``enabled_at``. A dry run counts the runs it would create and writes nothing; the
    real one creates them (each event still fires once: event keys and cooldowns apply
    as to any run). Churned accounts and re-baselines are left out as usual."""
    until = playbook.enabled_at
    candidates: list[Candidate]
    if playbook.trigger in Playbook.EVENT_TRIGGERS:
        events = ScoreEvent.objects.filter(created_at__gte=since)
        if until is not None:
            events = events.filter(created_at__lt=until)
        candidates = []
        ids = list(events.order_by("id").values_list("pk", flat=True))
        for start in range(0, len(ids), 1000):
            candidates += event_candidates(
                events=events_loaded(ids[start : start + 1000]),
                playbooks=[playbook],
                today=matching.local_today(now),
                not_before={},
            )
    else:
        candidates = [
            c for c in state_candidates(playbook, now=now, since=since) if not c.rebaseline
        ]
    if dry_run:
        with transaction.atomic():
            runs = len(runs_plan(candidates=candidates, playbooks={playbook.pk: playbook}, now=now))
        return Backfill(playbook, since, until, len(candidates), runs, True)
    result = state_runs_create(playbook, candidates, now=now, dispatch=dispatch)
    return Backfill(playbook, since, until, result.events, result.runs, False)
