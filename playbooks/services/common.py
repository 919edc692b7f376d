"""What the playbooks services share: their errors and how they hand work to Celery."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

logger = logging.getLogger(__name__)


class PlaybookError(Exception):
    """A request about playbooks or tasks that cannot be carried out; the message says why
    and ``field`` (when given) says where."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class StepError(Exception):
    """A step that cannot be carried out as configured (no owner to email, an endpoint
    switched off, …): recorded on the step run, which fails; never retried."""


def send_on_commit(*, task_name: str, ids: Iterable[int]) -> None:
    """Send ``task_name(id)`` for each id once the current transaction commits.

    Robust: if the broker is unreachable the commit stands and the periodic tick sends
    the work later (it re-sends whatever was not handled in time).
    """
    ids = list(ids)
    if not ids:
        return

    def send() -> None:
        # Imported here: the Celery tasks module imports these services.
        from playbooks import tasks

        task = getattr(tasks, task_name)
        for pk in ids:
            task.delay(pk)

    transaction.on_commit(send, robust=True)
