"""Template context for the task parts of pages, shared by the account page and the task
and note actions that refresh them in place."""

from __future__ import annotations

from accounts.models import Account, User
from playbooks.forms import NoteForm, TaskForm
from playbooks.selectors import (
    account_task_rows,
    account_tasks,
    account_timeline,
    task_assignees_for,
)
from scoring.models import CsmSentiment


def account_tasks_context(
    *,
    account: Account,
    user: User,
    today,
    note_form: NoteForm | None = None,
    task_form: TaskForm | None = None,
    notice: str = "",
    sentiments: list[CsmSentiment] | None = None,
) -> dict:
    """The account page's tasks (with their in-place actions) and its timeline. One read
    of the account's tasks feeds both; ``sentiments`` (``sentiments_recent``, shared
    with the sentiment card) saves the timeline's read of them."""
    rows = account_task_rows(account=account)
    people = task_assignees_for(user=user)
    return {
        "account": account,
        "tasks": account_tasks(account=account, rows=rows),
        "timeline": account_timeline(account=account, tasks=rows, sentiments=sentiments),
        "people": list(people),
        # Drawn by hand from ``people`` (playbooks/task.html#new_fields): no query of its own.
        "task_form": task_form or TaskForm(people=people),
        "today": today,
        "note_form": note_form or NoteForm(),
        "timeline_notice": notice,
    }
