"""Forms of the task pages: snooze, reassign and note. Each checks its own input; the
services check the rest (a closed task, an inactive person) and their errors are put on
the same form, so every error shows beside the field it is about."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account, RiskLevel, User
from playbooks.models import Priority
from playbooks.services.task_ops import NOTE_MAX, TITLE_MAX


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    """``form.errors`` as plain messages, ``{field: [message, ...]}``: what the task card
    and the API's error body show (an ``ErrorList`` gives the same messages)."""
    return {
        field: [message for error in errors.as_data() for message in error.messages]
        for field, errors in form.errors.items()
    }


class DateInput(forms.DateInput):
    input_type = "date"


class SnoozeForm(forms.Form):
    until = forms.DateField(label="Snooze until", widget=DateInput)

    def __init__(self, *args, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_until(self) -> dt.date:
        until = self.cleaned_data["until"]
        if until <= self.today:
            raise forms.ValidationError(
                f"Snooze until a day after today ({self.today:%d %b %Y}); {until:%d %b %Y} is not."
            )
        return until


class ReassignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label="Give to",
        queryset=User.objects.none(),
        error_messages={
            "invalid_choice": "Choose someone on your teams; that person is not one of them."
        },
    )

    def __init__(self, *args, people: QuerySet[User], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["assignee"]).queryset = people


class AccountField(forms.CharField):
    """An account of the user's, named by its external id (what the suggestions give) or
    by its exact name when that names one account."""

    def __init__(self, *args, accounts: QuerySet[Account] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.accounts = accounts if accounts is not None else Account.objects.none()

    def clean(self, value: Any) -> Account:
        text = super().clean(value).strip()
        found = list(self.accounts.filter(external_id=text)[:1])
        if not found:
            found = list(self.accounts.filter(name__iexact=text)[:2])
        if not found:
            raise forms.ValidationError(
                f"No account of yours is named “{text}” or has that external id."
            )
        if len(found) > 1:
            raise forms.ValidationError(
                f"More than one of your accounts is named “{text}”: give its external id."
            )
        return found[0]


class TaskForm(forms.Form):
    """A task made by hand: on the account page (its account is known) or from the queue
    (``accounts`` given: the user names one of theirs). Without an assignee it goes to
    the account's owner."""

    account = AccountField(
        label="Account",
        help_text="Its name or external id.",
        error_messages={"required": "Say which account the task is on."},
    )
    title = forms.CharField(
        label="Title",
        max_length=TITLE_MAX,
        error_messages={"required": "Give the task a title."},
    )
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    due_date = forms.DateField(
        label="Due", widget=DateInput, error_messages={"required": "Give the due date."}
    )
    priority = forms.ChoiceField(
        label="Priority", choices=Priority.choices, initial=Priority.NORMAL
    )
    assignee = forms.ModelChoiceField(
        label="For",
        queryset=User.objects.none(),
        required=False,
        empty_label="The account's owner",
        error_messages={
            "invalid_choice": "Choose someone on your teams; that person is not one of them."
        },
    )

    def __init__(
        self,
        *args,
        people: QuerySet[User],
        accounts: QuerySet[Account] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["assignee"]).queryset = people
        if accounts is None:
            del self.fields["account"]
        else:
            cast(AccountField, self.fields["account"]).accounts = accounts

    @property
    def selected_assignee(self) -> int | None:
        """The pk of the person chosen (the page draws the choices itself)."""
        try:
            return int(self["assignee"].value())
        except (TypeError, ValueError):
            return None


class QueueFilterForm(forms.Form):
    """The queue's filters (GET): a due window, priority, where the task came from and
    its account's risk level. Empty means everything."""

    DUE_WINDOWS = [
        ("", "Any day"),
        ("overdue", "Overdue"),
        ("today", "Due by today"),
        ("week", "Due within 7 days"),
        ("month", "Due within 30 days"),
    ]
    ORIGINS = [("", "Any origin"), ("playbook", "From a playbook"), ("manual", "Added by hand")]
    UNSCORED = "unscored"

    due = forms.ChoiceField(label="Due", choices=DUE_WINDOWS, required=False)
    priority = forms.ChoiceField(
        label="Priority", choices=[("", "Any priority"), *Priority.choices], required=False
    )
    origin = forms.ChoiceField(label="Origin", choices=ORIGINS, required=False)
    level = forms.ChoiceField(
        label="Account",
        choices=[("", "Any risk level"), *RiskLevel.choices, (UNSCORED, "Not scored")],
        required=False,
    )

    def active(self) -> dict[str, str]:
        """The filters given (a valid form), by name."""
        return {key: value for key, value in self.cleaned_data.items() if value}


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write something in the note."},
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("Write something in the note.")
        return body


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class BackfillForm(forms.Form):
    """Admin: since when to act on the events a playbook missed before it was switched on."""

    since = forms.DateField(
        label="Events since",
        widget=DateInput,
        help_text="Events from this day up to when the playbook was switched on.",
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def since_moment(self) -> dt.datetime:
        return _start_of(self.cleaned_data["since"])


class EffectivenessForm(forms.Form):
    """Admin: the period of runs to judge and how long after each to look for recovery."""

    since = forms.DateField(label="Runs from", widget=DateInput, required=False)
    until = forms.DateField(label="to (not included)", widget=DateInput, required=False)
    days = forms.IntegerField(
        label="Outcome after (days)", min_value=1, max_value=365, initial=21, required=False
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "End the period after it starts.")
        return data

    def period(self) -> tuple[dt.datetime, dt.datetime, int]:
        """(since, until, days): by default the last 180 days, outcomes after 21 days."""
        data = self.cleaned_data if self.is_bound else {}
        today = timezone.localdate()
        until = data.get("until") or today + dt.timedelta(days=1)
        since = data.get("since") or until - dt.timedelta(days=180)
        return _start_of(since), _start_of(until), data.get("days") or 21
