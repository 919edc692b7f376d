"""Playbook configuration written through the API: a playbook and its ordered steps."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from playbooks.models import Playbook, PlaybookStep, PlaybookStepRun
from playbooks.services.common import PlaybookError


@transaction.atomic
def playbook_save(
    *,
    playbook: Playbook | None,
    fields: dict[str, Any],
    steps: list[dict[str, Any]] | None,
) -> Playbook:
    """Create a playbook (``playbook=None``) or change one: ``fields`` are set, and
    ``steps`` (in order; ``None`` = keep the current ones) replace its steps.

    The input is already validated (``Playbook.clean`` and each step's ``errors``). Steps
    that runs have used are never replaced: a step run belongs to its step, and removing
    the step would erase what those runs did. Such a playbook raises PlaybookError on
    ``steps``; its other fields still change.
    """
    if playbook is None:
        playbook = Playbook()
    else:
        # One writer at a time: a concurrent change of the same playbook waits.
        playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
    if steps is not None and playbook.pk is not None:
        runs = PlaybookStepRun.objects.filter(step__playbook=playbook).values("run").distinct()
        if runs.exists():
            raise PlaybookError(
                f"The playbook {playbook.name!r} has run {runs.count()} time(s); its steps "
                "are kept as the record of those runs and cannot be replaced. Change the "
                "other fields without `steps`, or create a new playbook with the new steps "
                "(and set this one's `is_active` to false).",
                field="steps",
            )
    for name, value in fields.items():
        setattr(playbook, name, value)
    playbook.save()
    if steps is not None:
        playbook.steps.all().delete()
        PlaybookStep.objects.bulk_create(
            PlaybookStep(playbook=playbook, position=index, **step)
            for index, step in enumerate(steps, start=1)
        )
    return playbook
