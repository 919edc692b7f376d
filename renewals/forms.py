from __future__ import annotations

from django import forms

from renewals.models import RenewalOutcome


class OutcomeForm(forms.Form):
    """What a person records for a renewal; ``outcome_record`` checks the rest (the ARR
    against the kind, at most three active reasons). Reasons are taken by code."""

    renewal_date = forms.DateField(widget=forms.HiddenInput, required=False)
    kind = forms.ChoiceField(choices=RenewalOutcome.Kind.choices, label="Outcome")
    arr_after = forms.DecimalField(
        label="New ARR", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    reasons = forms.MultipleChoiceField(required=False, label="Reasons (up to 3)")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    next_renewal = forms.DateField(
        required=False, label="Next renewal", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, reason_codes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        reasons = self.fields["reasons"]
        assert isinstance(reasons, forms.MultipleChoiceField)
        reasons.choices = [(code, code) for code in reason_codes]
