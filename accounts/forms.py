"""Forms of the account list's saved views and bulk actions. Each parses what was sent;
the services check the rest (a name already used, a team that is not the owner's, who
may receive accounts) and their errors are put on the same form, beside their field."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from accounts.models import SavedView, Team, User
from config.widgets import PlainSelect
from playbooks.models import Priority
from playbooks.services.task_ops import TITLE_MAX


class SavedViewForm(forms.Form):
    """Save (or rename and re-share) a view: its name and whom it is shared with."""

    name = forms.CharField(label="Name", max_length=SavedView._meta.get_field("name").max_length)
    team = forms.ModelChoiceField(
        label="Share with",
        queryset=Team.objects.none(),
        required=False,
        empty_label="Only me",
        widget=PlainSelect,
        error_messages={"invalid_choice": "Share with one of your teams; that is not one."},
    )
    query = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, teams: QuerySet[Team], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams


class IdListField(forms.Field):
    """Every value of a repeated parameter (``account=3&account=9``) as whole numbers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = [value] if isinstance(value, str) else list(value or [])
        try:
            return [int(item) for item in values if str(item).strip()]
        except ValueError:
            raise forms.ValidationError(
                "Accounts are given by their ids (whole numbers)."
            ) from None


class DateInput(forms.DateInput):
    input_type = "date"


class BulkActionForm(forms.Form):
    """A bulk action on the account list, through its steps.

    ``stage`` says how far it got: empty when it comes from the list (show the action's
    fields), ``review`` when they are filled in (confirm with the count), ``apply``
    once confirmed. The selection is either the ``account`` ids ticked on the page or
    ``all`` that the list's ``query`` matches; ``expected`` carries the count that was
    confirmed, so the action is refused if the selection changed since.
    """

    REASSIGN, TASK, EXPORT = "reassign", "task", "export"
    ACTIONS = [(REASSIGN, "Reassign owner"), (TASK, "Create a task on each"), (EXPORT, "Export")]
    STAGES = [("", "Choose"), ("review", "Review"), ("apply", "Apply")]

    action = forms.ChoiceField(choices=ACTIONS)
    stage = forms.ChoiceField(choices=STAGES, required=False, widget=forms.HiddenInput)
    account = IdListField(required=False)
    all = forms.BooleanField(required=False, widget=forms.HiddenInput)
    query = forms.CharField(required=False, widget=forms.HiddenInput)
    expected = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    owner = forms.ModelChoiceField(
        label="New owner",
        queryset=User.objects.none(),
        required=False,
        widget=PlainSelect,
        error_messages={
            "invalid_choice": "Choose someone you may give accounts to; that person is not."
        },
    )
    title = forms.CharField(label="Title", max_length=TITLE_MAX, required=False)
    due_date = forms.DateField(label="Due", required=False, widget=DateInput)
    priority = forms.ChoiceField(
        label="Priority", choices=Priority.choices, initial=Priority.NORMAL, required=False
    )
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea)

    def __init__(self, *args, owners: QuerySet[User], today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = owners
        self.fields["due_date"].initial = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("all") and not data.get("account") and "account" not in self.errors:
            self.add_error(None, "Select at least one account, or all that match the filter.")
        if data.get("stage") in ("review", "apply"):
            required = {
                self.REASSIGN: {"owner": "Choose the new owner."},
                self.TASK: {
                    "title": "Give the task a title.",
                    "due_date": "Give the due date.",
                    "priority": "Choose a priority.",
                },
            }.get(data.get("action", ""), {})
            for name, message in required.items():
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, message)
        return data

    @property
    def fields_of_action(self) -> list[forms.BoundField]:
        """The fields the chosen action asks for, in the order they are shown."""
        names = {
            self.REASSIGN: ["owner"],
            self.TASK: ["title", "due_date", "priority", "description"],
        }.get(self.data.get("action", ""), [])
        return [self[name] for name in names]
