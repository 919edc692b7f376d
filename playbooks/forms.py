"""Forms of the task pages: snooze, reassign and note. Each checks its own input; the
services check the rest (a closed task, an inactive person) and their errors are put on
the same form, so every error shows beside the field it is about."""

from __future__ import annotations

import datetime as dt

from django import forms

from accounts.models import User
from playbooks.services.task_ops import NOTE_MAX


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

    def __init__(self, *args, people, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = people


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
