"""Playbooks (a trigger, conditions and ordered steps), their runs, CSM tasks, notes,
and outbound deliveries (email, Slack, signed webhooks).

Invariants the database holds, whatever a worker does:

- one run per (playbook, account, triggering event): ``PlaybookRun.event_key`` names the
  event ("score_event:123", "renewal:2027-01-01", …) under a unique constraint;
- one step run per (run, step), and one task per step run (``Task.origin_step_run``);
- one delivery per idempotency key ("step_run:<id>", "event:<name>:<id>:<endpoint>").

So a retried task, a redelivered message or a manual re-run adds nothing.

By topic: ``playbooks``, ``steps`` (and the texts they render), ``runs`` (and step runs),
``tasks`` (and notes), ``endpoints`` (and deliveries). Import from here:
``from playbooks.models import Task``.
"""

from playbooks.models.endpoints import Delivery, WebhookEndpoint, webhook_secret
from playbooks.models.playbooks import Playbook
from playbooks.models.runs import PlaybookRun, PlaybookStepRun
from playbooks.models.steps import (
    ACCOUNT_SET_FIELDS,
    PLACEHOLDERS,
    PlaybookStep,
    placeholder_errors,
    render_text,
    set_field_clean,
    set_field_errors,
)
from playbooks.models.tasks import PRIORITY_RANK, Note, Priority, Task, priority_rank, queue_day

__all__ = [
    "ACCOUNT_SET_FIELDS",
    "PLACEHOLDERS",
    "PRIORITY_RANK",
    "Delivery",
    "Note",
    "Playbook",
    "PlaybookRun",
    "PlaybookStep",
    "PlaybookStepRun",
    "Priority",
    "Task",
    "WebhookEndpoint",
    "placeholder_errors",
    "priority_rank",
    "queue_day",
    "render_text",
    "set_field_clean",
    "set_field_errors",
    "webhook_secret",
]
