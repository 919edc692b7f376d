"""Playbook configuration, written through the API, the admin and the demo: a playbook and
its ordered steps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from playbooks.models import Playbook, PlaybookStep, PlaybookStepRun
from playbooks.services.common import PlaybookHasRuns


@transaction.atomic
def playbook_save(
    *,
    playbook: Playbook | None,
    fields: dict[str, Any],
    steps: list[dict[str, Any]] | None,
    now: dt.datetime | None = None,
) -> Playbook:
    """Create a playbook (``playbook=None``, or a new unsaved one) or change one:
    ``fields`` are set, and ``steps`` (in order; ``None`` = keep the current ones) replace
    its steps. Switching a playbook on (creating it active, or activating it) sets its
    ``enabled_at``: it acts on events from then on.

    The input is already validated (``Playbook.clean`` and each step's ``errors``). Steps
    that runs have used are never replaced: a step run belongs to its step, and removing
    the step would erase what those runs did. Such a playbook raises PlaybookError on
    ``steps``; its other fields still change.
    """
    if playbook is None or playbook.pk is None:
        playbook = playbook or Playbook()
        was_active = False
    else:
        # One writer at a time: a concurrent change of the same playbook waits.
        playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
        was_active = playbook.is_active
    if steps is not None and playbook.pk is not None:
        runs = PlaybookStepRun.objects.filter(step__playbook=playbook).values("run").distinct()
        if runs.exists():
            raise PlaybookHasRuns(
                f"The playbook {playbook.name!r} has run {runs.count()} time(s); its steps "
                "are kept as the record of those runs and cannot be replaced. Change the "
                "other fields without `steps`, or create a new playbook with the new steps "
                "(and set this one's `is_active` to false).",
            )
    for name, value in fields.items():
        setattr(playbook, name, value)
    if playbook.is_active and not was_active:
        # A playbook acts on events from when it is switched on: the ones before are
        # history, acted on only by an explicit backfill (playbook_backfill).
        playbook.enabled_at = now or timezone.now()
    playbook.save()
    if steps is not None:
        playbook.steps.all().delete()
        PlaybookStep.objects.bulk_create(
            PlaybookStep(playbook=playbook, position=index, **step)
            for index, step in enumerate(steps, start=1)
        )
    return playbook


@transaction.atomic
def playbook_delete(*, playbook: Playbook) -> None:
    """Delete a playbook and its steps. One that has run is kept: its runs, their steps and
    the tasks they made are the record of what it did (switch it off instead)."""
    playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
    runs = playbook.runs.count()
    if runs:
        raise PlaybookHasRuns(
            f"The playbook {playbook.name!r} has run {runs} time(s); it is kept with its "
            "steps as the record of those runs and cannot be deleted. Switch it off "
            "(`is_active` false) instead.",
            field="is_active",
        )
    playbook.delete()
