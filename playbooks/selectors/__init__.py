"""Reads of the playbooks app, by topic: which tasks a person may see, their queue and
counts (``tasks``), an account's timeline (``timeline``), a manager's team overview
(``team``), and the dry run of a playbook (``playbooks.dryrun``).

Access is the accounts app's one mechanism: a person sees the tasks on the accounts in
their scope (``accounts.selectors.accounts_visible_to``) and the tasks assigned to them.
Import from here: ``from playbooks.selectors import task_queue``.
"""

from playbooks.dryrun import DryRun, DryRunStep, playbook_dry_run
from playbooks.selectors.tasks import (
    CARD_RELATED,
    QUEUE_SECTIONS,
    DoneCursor,
    DoneTasks,
    QueueCursor,
    QueueFilters,
    QueueSection,
    TaskQueue,
    account_get_for_work,
    account_task_rows,
    account_tasks,
    done_tasks,
    overdue_counts_by_assignee,
    queue_person_for,
    queue_tasks,
    task_assignees_for,
    task_counts,
    task_get_visible,
    task_get_visible_to_token,
    task_queue,
    tasks_done_window,
    tasks_due,
    tasks_due_count,
    tasks_visible_to,
    tasks_visible_to_token,
)
from playbooks.selectors.team import TeamMemberRow, TeamOverview, team_overview
from playbooks.selectors.timeline import TIMELINE_LENGTH, TimelineEntry, account_timeline

__all__ = [
    "CARD_RELATED",
    "QUEUE_SECTIONS",
    "TIMELINE_LENGTH",
    "DoneCursor",
    "DoneTasks",
    "DryRun",
    "DryRunStep",
    "QueueCursor",
    "QueueFilters",
    "QueueSection",
    "TaskQueue",
    "TeamMemberRow",
    "TeamOverview",
    "TimelineEntry",
    "account_get_for_work",
    "account_task_rows",
    "account_tasks",
    "account_timeline",
    "done_tasks",
    "overdue_counts_by_assignee",
    "playbook_dry_run",
    "queue_person_for",
    "queue_tasks",
    "task_assignees_for",
    "task_counts",
    "task_get_visible",
    "task_get_visible_to_token",
    "task_queue",
    "tasks_done_window",
    "tasks_due",
    "tasks_due_count",
    "tasks_visible_to",
    "tasks_visible_to_token",
    "team_overview",
]
