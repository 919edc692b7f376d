from __future__ import annotations

from django import forms


class SentimentForm(forms.Form):
    value = forms.TypedChoiceField(
        label="Sentiment",
        coerce=int,
        choices=[
            (5, "5 — very happy"),
            (4, "4 — happy"),
            (3, "3 — neutral"),
            (2, "2 — unhappy"),
            (1, "1 — very unhappy"),
        ],
        initial=3,
    )
    note = forms.CharField(
        label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
