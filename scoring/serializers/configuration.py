"""The JSON shapes of metrics and scoring models, validated field by field here and
written by ``scoring.services``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.core.validators import RegexValidator
from rest_framework import serializers

from accounts.models import RiskLevel
from config.api import json_without_nul
from config.api_fields import FIELD_MAPPING, NumberField, TextField
from scoring.models import Band, Metric, ScoringComponent, ScoringModel
from scoring.services import BandInput, ComponentInput, metrics_definitions_kept_by
from scoring.validation import band_errors, component_params_errors, repeated

# The longest roll-up window: ten years of history is more than any health score needs,
# and it keeps window arithmetic far from the limits of dates.
METRIC_MAX_WINDOW_DAYS = 3650


class MetricListSerializer(serializers.ListSerializer):
    """A page of metrics: which versions keep an earlier definition, in one query."""

    def to_representation(self, data):
        metrics = list(data.all() if hasattr(data, "all") else data)
        child = cast(MetricSerializer, self.child)
        child.kept_versions = metrics_definitions_kept_by(metrics=metrics)
        return super().to_representation(metrics)


class MetricSerializer(serializers.ModelSerializer):
    serializer_field_mapping = FIELD_MAPPING
    # {metric id: versions keeping an earlier definition}, set by MetricListSerializer.
    kept_versions: dict[int, list[ScoringModel]] | None = None
    window_days = serializers.IntegerField(
        min_value=1,
        max_value=METRIC_MAX_WINDOW_DAYS,
        required=False,
        help_text="Length of the roll-up window in days (windowed roll-ups only). Default 30.",
    )
    kept_by = serializers.SerializerMethodField(
        help_text="Active scoring model versions that still roll this metric up by an "
        "earlier definition: a version keeps the definition it was activated with, so a "
        "new roll-up or window reaches their scores only through a new version."
    )

    class Meta:
        model = Metric
        list_serializer_class = MetricListSerializer
        fields = [
            "key",
            "name",
            "unit",
            "description",
            "rollup",
            "window_days",
            "kept_by",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "key": {
                "help_text": "Letters, digits, '-' and '_'; unique. Signals name the metric "
                "by it; it cannot be changed later."
            },
        }

    def validate_key(self, value: str) -> str:
        if self.instance is not None and value != self.instance.key:
            raise serializers.ValidationError(
                f"Does not match the URL ('{self.instance.key}'); metric keys cannot be "
                "renamed, because signals and integrations use them."
            )
        return value

    def get_kept_by(self, metric: Metric) -> list[str]:
        kept = self.kept_versions or metrics_definitions_kept_by(metrics=[metric])
        return [f"{model.key}:{model.version}" for model in kept[metric.pk]]


# --- Scoring models ------------------------------------------------------------------------

_COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}\Z", "A colour as #rrggbb, e.g. #16a34a.")


class SlugLookupField(serializers.SlugRelatedField):
    """An object by its key or name (a metric, a user, an endpoint, a team). Text that no
    key can be (not a string, or with a NUL character, which PostgreSQL cannot even look
    up) is refused before the query."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class ComponentSerializer(serializers.Serializer):
    metric = SlugLookupField(
        slug_field="key",
        queryset=Metric.objects.all(),
        help_text="The metric's key.",
        error_messages={"does_not_exist": "Unknown metric '{value}'."},
    )
    # A declared field, taken off the class by DRF's metaclass: it does not shadow the
    # Field/Serializer attribute of the same name, whatever the stubs think.
    label = TextField(  # type: ignore[assignment]
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text="Defaults to the metric's name.",
    )
    weight = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(100),
        coerce_to_string=False,
        required=False,
        default=Decimal(0),
        help_text="Per cent of the score (weighted models: all weights sum to 100). "
        "Ignored by points models.",
    )
    rule = serializers.ChoiceField(
        choices=ScoringComponent.Rule.choices,
        help_text="linear {worst, best}; steps {steps: [[min, score], …]}; table "
        "{table: {value: score}}; passthrough {}; per_unit {points} (points models).",
    )
    params = serializers.JSONField(
        required=False,
        default=dict,
        validators=[json_without_nul],
        help_text="The rule's parameters (a JSON object).",
    )
    missing = serializers.ChoiceField(
        choices=ScoringComponent.Missing.choices,
        required=False,
        default=ScoringComponent.Missing.SKIP,
        help_text="Without data: `skip` (leave out, re-weight the rest) or `default`.",
    )
    default_value = NumberField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The raw value used without data (with `missing: default`).",
    )
    rollup = serializers.CharField(
        read_only=True,
        help_text="How this version rolls the metric up: the metric's roll-up when the "
        "version was a draft, kept once it is active.",
    )
    window_days = serializers.IntegerField(
        read_only=True, help_text="The roll-up window this version uses, in days."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["missing"] == ScoringComponent.Missing.DEFAULT and attrs["default_value"] is None:
            raise serializers.ValidationError(
                {"default_value": ["Give the default value, or choose `missing: skip`."]}
            )
        return attrs

    def to_representation(self, component: ScoringComponent) -> dict[str, Any]:
        return {
            "metric": component.metric.key,
            "label": component.label,
            "weight": float(component.weight),
            "rule": component.rule,
            "params": component.params,
            "missing": component.missing,
            "default_value": component.default_value,
            "rollup": component.rollup,
            "window_days": component.window_days,
        }


class BandSerializer(serializers.Serializer):
    name = TextField(max_length=60)
    lower = NumberField(
        allow_null=True,
        help_text="Lowest score in the band (inclusive); null for the band open below. "
        "A band runs up to the next band's lower bound; the highest is open above.",
    )
    color = TextField(max_length=7, required=False, default="#64748b", validators=[_COLOR])
    level = serializers.ChoiceField(
        choices=RiskLevel.choices,
        required=False,
        help_text="The risk level the band stands for (healthy, neutral, at_risk, critical): "
        "the one vocabulary of playbooks, filters and dashboards across models. Default "
        "neutral, or at_risk when `is_at_risk` is true.",
    )
    is_at_risk = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Earlier form of `level`: true means at_risk when no level is given. "
        "Read back as whether the level counts towards ARR at risk.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "level" not in attrs:
            attrs["level"] = RiskLevel.AT_RISK if attrs["is_at_risk"] else RiskLevel.NEUTRAL
        return attrs

    def to_representation(self, band: Band) -> dict[str, Any]:
        return {
            "name": band.name,
            "lower": band.lower,
            "color": band.color,
            "level": band.level,
            "is_at_risk": band.is_at_risk,
        }


class RelatedListField(serializers.ListField):
    """A list written as plain items and read from a related manager (components, bands).

    Each item is validated whole, by a serializer of its own: a PATCH of the model is
    partial, but a component or band in it is always complete (it replaces the old).
    Errors are keyed by the item's index.
    """

    child: serializers.Serializer  # a ListField's child may be any field; here, a serializer

    def to_representation(self, data: Any) -> list[Any]:
        items = data.all() if hasattr(data, "all") else data
        return [self.child.to_representation(item) for item in items]

    def run_child_validation(self, data: list[Any]) -> list[dict[str, Any]]:
        result, errors = [], {}
        for index, item in enumerate(data):
            serializer = type(self.child)(data=item)
            if serializer.is_valid():
                result.append(serializer.validated_data)
            else:
                errors[str(index)] = serializer.errors
        if errors:
            raise serializers.ValidationError(errors)
        return result


class ScoringModelSerializer(serializers.ModelSerializer):
    """A scoring model version with its components (in order) and bands.

    Writes validate the whole model: each component's and band's fields (errors under
    ``components`` or ``bands``, keyed by the item's index, then the field), the bands as
    a set (under ``bands.non_field_errors``), and the model as a whole (weights summing
    to 100 %: under ``non_field_errors``).
    """

    serializer_field_mapping = FIELD_MAPPING

    components = RelatedListField(
        child=ComponentSerializer(),
        max_length=100,
        required=False,
        help_text="In scoring order. Given on a write, it replaces the model's components. "
        "Required when creating (unless `based_on`).",
    )
    bands = RelatedListField(
        child=BandSerializer(),
        max_length=50,
        required=False,
        help_text="Given on a write, it replaces the model's bands. Required when creating "
        "(unless `based_on`).",
    )
    key = serializers.SlugField(
        max_length=64,
        required=False,
        help_text="Shared by all versions of a model. Creating a model with the key of an "
        "existing one creates its next version (a draft).",
    )
    based_on = serializers.PrimaryKeyRelatedField(
        queryset=ScoringModel.objects.all(),
        required=False,
        allow_null=True,
        help_text="Create only: copy this version (its key, fields, components and bands) "
        "into a new draft; the fields given override the copy.",
        error_messages={"does_not_exist": "No scoring model with id {pk_value}."},
    )

    class Meta:
        model = ScoringModel
        fields = [
            "id",
            "key",
            "version",
            "name",
            "description",
            "kind",
            "status",
            "segment",
            "plan",
            "lifecycle_stage",
            "based_on",
            "components",
            "bands",
            "created_at",
            "activated_at",
        ]
        read_only_fields = ["id", "version", "status", "created_at", "activated_at"]
        # Uniqueness of (key, version) is the service's business: it numbers versions.
        validators: list = []
        extra_kwargs = {
            "name": {"required": False, "help_text": "Required when creating (unless `based_on`)."},
            "segment": {"help_text": "Applies to this segment only; empty: any segment."},
            "plan": {"help_text": "Applies to this plan only; empty: any plan."},
            "lifecycle_stage": {"help_text": "Applies to this stage only; empty: any stage."},
        }

    def validate_key(self, value: str) -> str:
        if self.instance is not None and value != self.instance.key:
            raise serializers.ValidationError(
                f"Does not match this version's key ('{self.instance.key}'); keys cannot "
                "be changed. Create a new model instead."
            )
        return value

    def validate_based_on(self, value: ScoringModel | None) -> ScoringModel | None:
        if self.instance is not None and value is not None and value != self.instance.based_on:
            raise serializers.ValidationError("Can only be given when creating a model.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Checks that need more than one field: the kind decides which rules are valid."""
        source: ScoringModel | None = attrs.get("based_on") if self.instance is None else None
        if self.instance is None and source is None:
            missing = [name for name in ("key", "name", "components", "bands") if name not in attrs]
            if missing:
                raise serializers.ValidationError(
                    {name: ["This field is required."] for name in missing}
                )
        if source is not None and attrs.get("key", source.key) != source.key:
            raise serializers.ValidationError(
                {"key": [f"A copy of '{source.key}' keeps its key; leave `key` out."]}
            )
        kind = attrs.get("kind") or (self.instance or source or ScoringModel()).kind
        errors: dict[str, Any] = {}

        # A kind changed without new components or bands is checked as a whole model
        # by the service (scoring.validation.model_errors), under non_field_errors.
        components = attrs.get("components")
        if components is not None:
            component_errors: dict[str, Any] = {}
            repeats = repeated([component["metric"].pk for component in components])
            for index, component in enumerate(components):
                found = component_params_errors(
                    rule=component["rule"], params=component["params"], model_kind=kind
                )
                if index in repeats:
                    found.setdefault("metric", []).append(
                        f"Already used by component {repeats[index]}: a model "
                        "scores each metric once."
                    )
                if found:
                    component_errors[str(index)] = found
            if component_errors:
                errors["components"] = component_errors

        bands = attrs.get("bands")
        if bands is not None:
            band_messages = band_errors(
                bands=[(band["name"], band["lower"]) for band in bands], model_kind=kind
            )
            if band_messages:
                errors["bands"] = {"non_field_errors": band_messages}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def component_inputs(rows: list[dict[str, Any]]) -> list[ComponentInput]:
    return [
        ComponentInput(
            metric=row["metric"],
            label=row["label"],
            weight=row["weight"],
            rule=row["rule"],
            params=row["params"],
            missing=row["missing"],
            default_value=row["default_value"],
        )
        for row in rows
    ]


def band_inputs(rows: list[dict[str, Any]]) -> list[BandInput]:
    return [
        BandInput(name=row["name"], lower=row["lower"], color=row["color"], level=row["level"])
        for row in rows
    ]
