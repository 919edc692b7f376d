"""What the playbooks services share: their errors. (Work is handed to Celery by
``config.tasking``.)"""

from __future__ import annotations

import logging

from rest_framework import status

from config.errors import DomainError

logger = logging.getLogger(__name__)


class PlaybookError(DomainError):
    """A request about playbooks or tasks that cannot be carried out; the message says why
    and ``field`` (when given) says where. A domain error: the API answers it in its one
    shape (400 ``invalid`` unless a subclass says otherwise)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, fields={field: [message]} if field else None)
        self.field = field


class TaskClosed(PlaybookError):
    """The task is done, resolved or cancelled: it cannot change any more."""

    status_code = status.HTTP_409_CONFLICT
    code = "task_closed"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="status")


class PlaybookHasRuns(PlaybookError):
    """The playbook's steps are the record of its runs: they are not replaced."""

    status_code = status.HTTP_409_CONFLICT
    code = "playbook_has_runs"

    def __init__(self, message: str, *, field: str = "steps") -> None:
        super().__init__(message, field=field)


class EndpointInUse(PlaybookError):
    """Playbook steps send to the endpoint: it is not deleted from under them."""

    status_code = status.HTTP_409_CONFLICT
    code = "endpoint_in_use"


class StepError(Exception):
    """A step that cannot be carried out as configured (no owner to email, an endpoint
    switched off, …): recorded on the step run, which fails; never retried."""
