"""Template context for the task parts of pages, shared by the account page and the task
and note actions that refresh them in place."""

from __future__ import annotations

from accounts.models import Account, User
from playbooks.forms import TaskForm
from playbooks.selectors import (
    account_task_rows,
    account_tasks,
    task_assignees_for,
)


def account_tasks_context(
    *,
    account: Account,
    user: User,
    today,
    task_form: TaskForm | None = None,
) -> dict:
    """The account page's tasks, with their in-place actions. Its timeline is a card
    loaded after the page (``playbooks.views.account_timeline_view``): it reads a table
    per kind of entry, which the page's own budget of queries cannot hold."""
    rows = account_task_rows(account=account)
    people = task_assignees_for(user=user)
    return {
        "account": account,
        "tasks": account_tasks(account=account, rows=rows),
        "people": list(people),
        # Drawn by hand from ``people`` (playbooks/task.html#new_fields): no query of its own.
        "task_form": task_form or TaskForm(people=people),
        "today": today,
    }
