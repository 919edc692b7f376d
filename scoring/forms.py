"""Forms of the scoring app: the admin's model versions with their components and bands, the
preview of a draft and the recompute form; the CSM sentiment form of the account page.

The formsets check a model as a whole, in words an admin can act on: weights that
do not sum to 100 say what they sum to, a component's bad parameters name the
component, overlapping bands name the bands.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.db import models
from django.forms.models import BaseInlineFormSet

from accounts.models import Account
from scoring.analysis.preview import PREVIEW_MAX_ACCOUNTS
from scoring.models import Band, GradeScale, ScoringComponent, ScoringModel, ScoringRun
from scoring.services import MODEL_FIELDS
from scoring.validation import band_errors, component_params_errors, repeated, weight_errors

hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give a colour as #rrggbb, e.g. #16a34a.")


class ColorInput(forms.TextInput):
    input_type = "color"


def _number(value: Decimal | float) -> str:
    return f"{float(value):g}"


class ScoringModelForm(forms.ModelForm):
    class Meta:
        model = ScoringModel
        fields = ["key", *MODEL_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, flap control keeps the product's defaults.
        for name in ("exit_margin", "dwell_scorings", "dwell_days"):
            if name in self.fields:
                self.fields[name].required = False

    def _default_if_empty(self, name: str):
        value = self.cleaned_data.get(name)
        if value is not None:
            return value
        field = ScoringModel._meta.get_field(name)
        # Flap control's settings are plain columns, never relations.
        return field.default if isinstance(field, models.Field) else None

    def clean_exit_margin(self):
        return self._default_if_empty("exit_margin")

    def clean_dwell_scorings(self):
        return self._default_if_empty("dwell_scorings")

    def clean_dwell_days(self):
        return self._default_if_empty("dwell_days")

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if self.instance.pk is None and ScoringModel.objects.filter(key=key).exists():
            raise forms.ValidationError(
                f"A model with key “{key}” exists. Open its latest version and use "
                "“Create a new draft version” to change it."
            )
        return key


class ComponentForm(forms.ModelForm):
    class Meta:
        model = ScoringComponent
        fields = [
            "metric",
            "label",
            "position",
            "weight",
            "rule",
            "params",
            "missing",
            "default_value",
        ]
        widgets = {"params": forms.Textarea(attrs={"rows": 2, "cols": 32})}


class BandForm(forms.ModelForm):
    color = forms.CharField(
        max_length=7, initial="#64748b", validators=[hex_color], widget=ColorInput()
    )

    class Meta:
        model = Band
        fields = ["name", "lower", "color", "level"]


class GradeScaleForm(forms.ModelForm):
    color = forms.CharField(
        max_length=7, initial="#64748b", validators=[hex_color], widget=ColorInput()
    )

    class Meta:
        model = GradeScale
        fields = ["letter", "lower", "color"]


class _ModelPartsFormSet(BaseInlineFormSet):
    """An inline formset that judges its rows together, against the parent's kind."""

    def live_forms(self) -> list[forms.ModelForm]:
        """The rows that will exist after saving: filled in and not marked for deletion."""
        return [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk is not None
            # Django's own test for a row marked for deletion; private, so not in the stubs.
            if not (self.can_delete and self._should_delete_form(form))  # type: ignore[attr-defined]
        ]

    def validate_unique(self) -> None:
        # Duplicates are reported by clean() with the names involved, rather than as
        # Django's generic "Please correct the duplicate data".
        return None

    @property
    def model_kind(self) -> str:
        return self.instance.kind


class ComponentFormSet(_ModelPartsFormSet):
    def clean(self) -> None:
        super().clean()
        rows = []
        for form in self.live_forms():
            number = self.forms.index(form) + 1  # as the admin shows the rows
            data = getattr(form, "cleaned_data", {})
            metric = data.get("metric")
            label = data.get("label") or (metric.name if metric else f"Component {number}")
            rows.append((form, data, label))
        errors: list[str] = []

        # Each metric once: every row of a repeated metric named by its number.
        metrics = [data.get("metric") for _, data, _ in rows]
        repeats = repeated([m.pk if m else ("no metric", i) for i, m in enumerate(metrics)])
        for first in sorted(set(repeats.values())):
            metric = metrics[first]
            assert metric is not None  # rows without a metric never repeat one another
            numbers = [
                str(self.forms.index(form) + 1)
                for i, (form, _, _) in enumerate(rows)
                if i == first or repeats.get(i) == first
            ]
            errors.append(
                f"{metric.name} is in rows {' and '.join(numbers)}: "
                "a metric can appear once in a model."
            )

        for form, data, label in rows:
            if form.errors.get("params"):
                # Found by the row itself (ScoringComponent.clean or the JSON field):
                # repeated here with the component's name.
                errors.extend(f"{label}: {message}" for message in form.errors["params"])
            elif "rule" in data and "params" in data:
                for messages in component_params_errors(
                    rule=data["rule"], params=data["params"], model_kind=self.model_kind
                ).values():
                    errors.extend(f"{label}: {message}" for message in messages)

        if not rows:
            errors.append("The model has no components.")
        elif all(data.get("weight") is not None for _, data, _ in rows):
            errors.extend(
                weight_errors(
                    model_kind=self.model_kind,
                    weights=[(label, data["weight"]) for _, data, label in rows],
                )
            )
        if errors:
            raise forms.ValidationError(errors)


class BandFormSet(_ModelPartsFormSet):
    def clean(self) -> None:
        super().clean()
        bands = []
        for form in self.live_forms():
            data = getattr(form, "cleaned_data", {})
            if "name" not in data or "lower" not in data:
                return  # the row's own error says what is wrong first
            bands.append((data["name"], data["lower"]))
        errors = band_errors(bands=bands, model_kind=self.model_kind)
        if errors:
            raise forms.ValidationError(errors)


class PreviewForm(forms.Form):
    SAMPLE_RANDOM = "random"
    SAMPLE_ALL = "all"

    size = forms.IntegerField(
        label="Accounts",
        min_value=1,
        max_value=PREVIEW_MAX_ACCOUNTS,
        initial=200,
        help_text=f"At most {PREVIEW_MAX_ACCOUNTS}.",
    )
    sample = forms.ChoiceField(
        choices=[
            (SAMPLE_RANDOM, "A random sample of the accounts the model would score"),
            (SAMPLE_ALL, "All accounts the model would score (the first ones by id)"),
        ],
        initial=SAMPLE_RANDOM,
        widget=forms.RadioSelect,
    )


class RecomputeForm(forms.Form):
    scope = forms.ChoiceField(choices=ScoringRun.Scope.choices, initial=ScoringRun.Scope.ALL)
    segment = forms.ChoiceField(
        choices=[("", "—"), *Account.Segment.choices],
        required=False,
        help_text="For one segment.",
    )
    external_id = forms.CharField(
        label="Account external id", required=False, help_text="For one account."
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns
        scope = data.get("scope")
        if scope == ScoringRun.Scope.SEGMENT and not data.get("segment"):
            self.add_error("segment", "Choose the segment to recompute.")
        if scope == ScoringRun.Scope.ACCOUNT:
            external_id = (data.get("external_id") or "").strip()
            if not external_id:
                self.add_error("external_id", "Give the external id of the account to recompute.")
            else:
                account = Account.objects.filter(external_id=external_id).first()
                if account is None:
                    self.add_error("external_id", f"No account has external id “{external_id}”.")
                data["account"] = account
        return data


class SentimentForm(forms.Form):
    """A CSM's pulse on the account page."""

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
