"""Writes of the playbooks app, by topic:

- ``triggers``: score events and periodic state checks become playbook runs, once each;
- ``steps``: the steps of runs are executed, once each;
- ``dispatch``: the periodic tick sends due work to the workers, and does what they lost;
- ``outbound``: email, Slack and signed webhook deliveries, with retries and back-off;
- ``endpoints``: saving and deleting webhook endpoints, their signatures, secret
  rotation, pausing a failing endpoint;
- ``task_ops``: what people do with tasks and notes;
- ``closing``: work that closes itself (recovery, churn, the end of a snooze);
- ``config``: playbooks and their steps, written through the API and the admin.

Import from here: ``from playbooks.services import task_complete``.
"""

from playbooks.services.closing import tasks_wake, work_close_for_churned, work_close_on_recovery
from playbooks.services.common import (
    EndpointInUse,
    PlaybookError,
    PlaybookHasRuns,
    StepError,
    TaskClosed,
)
from playbooks.services.config import playbook_delete, playbook_save
from playbooks.services.dispatch import due_work_dispatch
from playbooks.services.endpoints import (
    signature,
    signature_headers,
    webhook_endpoint_delete,
    webhook_endpoint_resume,
    webhook_endpoint_save,
    webhook_secret_rotate,
)
from playbooks.services.outbound import (
    AttemptOutcome,
    backoff_seconds,
    deliveries_due_send,
    delivery_attempt,
    delivery_enqueue,
    delivery_retry,
    webhook_event_enqueue,
)
from playbooks.services.steps import (
    Assignment,
    assignee_resolve,
    playbook_run_cancel,
    step_context,
    step_run_execute,
    step_run_fail,
    step_runs_due_execute,
)
from playbooks.services.task_ops import (
    note_add,
    task_cancel,
    task_complete,
    task_create_manual,
    task_reassign,
    task_snooze,
)
from playbooks.services.telling import overdue_notify
from playbooks.services.triggers import (
    Backfill,
    TriggerResult,
    playbook_backfill,
    score_events_process,
    score_events_process_all,
    state_triggers_evaluate,
)

__all__ = [
    "Assignment",
    "AttemptOutcome",
    "Backfill",
    "EndpointInUse",
    "PlaybookError",
    "PlaybookHasRuns",
    "StepError",
    "TaskClosed",
    "TriggerResult",
    "assignee_resolve",
    "backoff_seconds",
    "deliveries_due_send",
    "delivery_attempt",
    "delivery_enqueue",
    "delivery_retry",
    "due_work_dispatch",
    "note_add",
    "overdue_notify",
    "playbook_backfill",
    "playbook_delete",
    "playbook_run_cancel",
    "playbook_save",
    "score_events_process",
    "score_events_process_all",
    "signature",
    "signature_headers",
    "state_triggers_evaluate",
    "step_context",
    "step_run_execute",
    "step_run_fail",
    "step_runs_due_execute",
    "task_cancel",
    "task_complete",
    "task_create_manual",
    "task_reassign",
    "task_snooze",
    "tasks_wake",
    "webhook_endpoint_delete",
    "webhook_endpoint_resume",
    "webhook_endpoint_save",
    "webhook_event_enqueue",
    "webhook_secret_rotate",
    "work_close_for_churned",
    "work_close_on_recovery",
]
