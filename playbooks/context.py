"""Template context for the task parts of pages, shared by the account page and the task
and note actions that refresh them in place."""

from __future__ import annotations

from accounts.models import Account, User
from playbooks.forms import NoteForm
from playbooks.selectors import account_tasks, account_timeline, task_assignees_for


def account_tasks_context(
    *, account: Account, user: User, today, note_form: NoteForm | None = None, notice: str = ""
) -> dict:
    """The account page's tasks (with their in-place actions) and its timeline."""
    return {
        "account": account,
        "tasks": account_tasks(account=account),
        "timeline": account_timeline(account=account),
        "people": list(task_assignees_for(user=user)),
        "today": today,
        "note_form": note_form or NoteForm(),
        "timeline_notice": notice,
    }
