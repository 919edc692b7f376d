"""How accounts are scored: versions of scoring models, their components and bands, and
the letter-grade scale. Only drafts are edited; a version in use never changes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from accounts.models import AT_RISK_LEVELS, Account, RiskLevel
from scoring.models.metrics import Metric, describe_rollup
from scoring.validation import component_params_errors


class ScoringModel(models.Model):
    """One version of a scoring model.

    Versions of the same model share a ``key``. Only drafts are edited; activating a
    draft retires the version that was active, so every stored score points at the
    exact rules that produced it. At most one version per key is active.
    """

    class Kind(models.TextChoices):
        WEIGHTED = "weighted", "Weighted (0–100)"
        POINTS = "points", "Impact points"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    key = models.SlugField(max_length=64, help_text="Shared by all versions of this model.")
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEIGHTED)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The filter (scoring.applicability.FILTER_FIELDS): empty means "any". Of the active
    # models whose filter matches an account, the most specific scores it.
    segment = models.CharField(max_length=20, choices=Account.Segment.choices, blank=True)
    plan = models.CharField(max_length=100, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=Account.Stage.choices, blank=True)
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Flap control (scoring.engine.confirm_band): a band change counts once confirmed.
    exit_margin = models.FloatField(
        default=2.0,
        help_text="Hysteresis in points: an account leaves its band only when its score is "
        "more than this far past the band's edge.",
    )
    dwell_scorings = models.PositiveSmallIntegerField(
        default=2,
        help_text="Consecutive scorings in the new band before a band change counts (1 = at once).",
    )
    dwell_days = models.PositiveSmallIntegerField(
        default=1,
        help_text="Days the new band must have lasted before a band change counts (0 = no "
        "wait; a day counts from 23 hours). With scorings in a row, a recompute run twice "
        "in an hour never confirms a change by itself.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # With activated_at, which version was active at any past moment (backtests).
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="scoring_model_key_version"),
            models.UniqueConstraint(
                fields=["key"], condition=Q(status="active"), name="scoring_model_one_active"
            ),
            models.CheckConstraint(
                condition=Q(exit_margin__gte=0), name="scoring_model_exit_margin_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(dwell_scorings__gte=1), name="scoring_model_dwell_at_least_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def describe_flap_control(self) -> str:
        parts = [f"exit margin {self.exit_margin:g} points"]
        if self.dwell_scorings > 1:
            parts.append(f"{self.dwell_scorings} scorings in a row")
        if self.dwell_days:
            parts.append(f"{self.dwell_days} day{'s' if self.dwell_days != 1 else ''}")
        return ", ".join(parts)

    def describe_filter(self) -> str:
        parts = []
        if self.segment:
            parts.append(f"segment {self.get_segment_display()}")
        if self.plan:
            parts.append(f"plan {self.plan}")
        if self.lifecycle_stage:
            parts.append(f"stage {self.get_lifecycle_stage_display()}")
        return ", ".join(parts) or "all accounts"


class ScoringComponent(models.Model):
    """One metric's part in a model: how its value becomes component score or points.

    ``params`` by rule (validated in ``scoring.validation.component_params_errors``):
      linear      {"worst": 0, "best": 20}   worst→0, best→100, clamped; worst may exceed best
      steps       {"steps": [[min, score], ...]}  the score of the highest min ≤ value
      table       {"table": {"5": 100, "4": 75}}  exact values; others count as missing
      passthrough {}                            the value itself, clamped to 0–100
      per_unit    {"points": 10}                value × points (points models)
    """

    class Rule(models.TextChoices):
        LINEAR = "linear", "Linear range"
        STEPS = "steps", "Step thresholds"
        TABLE = "table", "Value table"
        PASSTHROUGH = "passthrough", "Pass-through (0–100)"
        PER_UNIT = "per_unit", "Points per unit"

    class Missing(models.TextChoices):
        SKIP = "skip", "Leave out and re-weight the rest"
        DEFAULT = "default", "Use the default value"

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="components")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="components")
    # The metric's roll-up as this version scores it: copied from the metric while the
    # version is a draft, kept once it is active, so a metric edited later never moves
    # the scores of a version already in use (see scoring.services.metric_save).
    rollup = models.CharField(max_length=16, choices=Metric.Rollup.choices, editable=False)
    window_days = models.PositiveIntegerField(editable=False)
    label = models.CharField(max_length=120, blank=True, help_text="Defaults to the metric's name.")
    position = models.PositiveSmallIntegerField(default=0)
    weight = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=0,
        help_text="Per cent of the score (weighted models; all weights sum to 100).",
    )
    rule = models.CharField(max_length=12, choices=Rule.choices, default=Rule.LINEAR)
    params = models.JSONField(default=dict, blank=True)
    missing = models.CharField(max_length=8, choices=Missing.choices, default=Missing.SKIP)
    default_value = models.FloatField(
        null=True, blank=True, help_text="Raw value used when data is missing (if chosen)."
    )

    class Meta:
        ordering = ["model", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "metric"], name="component_metric_once"),
            models.CheckConstraint(
                condition=Q(weight__gte=0) & Q(weight__lte=100), name="component_weight_range"
            ),
            models.CheckConstraint(
                condition=~Q(missing="default") | Q(default_value__isnull=False),
                name="component_default_given",
            ),
        ]

    def __str__(self) -> str:
        return self.label or self.metric.name

    def save(self, *args, **kwargs):
        # A new component takes the metric's roll-up; a draft's follow the metric's
        # edits through metric_save.
        if not self.rollup and self.metric_id:
            self.rollup, self.window_days = self.metric.rollup, self.metric.window_days
        super().save(*args, **kwargs)

    @property
    def display_label(self) -> str:
        return self.label or self.metric.name

    def describe_rollup(self) -> str:
        return describe_rollup(self.rollup, self.window_days)

    def clean(self) -> None:
        kind = self.model.kind if self.model_id else None
        errors = component_params_errors(rule=self.rule, params=self.params, model_kind=kind)
        if self.missing == self.Missing.DEFAULT and self.default_value is None:
            errors.setdefault("default_value", []).append(
                "Give the default value, or choose to leave the component out."
            )
        if errors:
            raise ValidationError(errors)


class Band(models.Model):
    """A named range of a model's score, from ``lower`` (inclusive) to the next band's.

    A band with no lower bound is open below (e.g. "Critical" for any negative points
    score); the highest band is open above. Defining bands by their lower bound only
    means they can never overlap or leave a gap.
    """

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="bands")
    name = models.CharField(max_length=60)
    lower = models.FloatField(
        null=True, blank=True, help_text="Lowest score in the band; empty = open below."
    )
    color = models.CharField(max_length=7, default="#64748b", help_text="#rrggbb")
    level = models.CharField(
        max_length=10,
        choices=RiskLevel.choices,
        default=RiskLevel.NEUTRAL,
        help_text="The risk level this band stands for. At risk and Critical count towards "
        "ARR at risk; playbooks can act on a level whatever model scored the account.",
    )

    class Meta:
        ordering = ["model", F("lower").asc(nulls_first=True)]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="band_name_once"),
            models.UniqueConstraint(fields=["model", "lower"], name="band_lower_once"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(lower__isnull=True), name="band_one_open_below"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_at_risk(self) -> bool:
        return self.level in AT_RISK_LEVELS


class GradeScale(models.Model):
    """A letter-grade view (A–F) over 0–100 scores: a band set that any weighted model's
    score can be shown in, independent of the model's own bands."""

    letter = models.CharField(max_length=2, unique=True)
    lower = models.FloatField(unique=True)
    color = models.CharField(max_length=7, default="#64748b")

    class Meta:
        ordering = ["-lower"]

    def __str__(self) -> str:
        return self.letter

    @property
    def name(self) -> str:
        # Shown wherever a band is (the band badge reads name and color).
        return f"Grade {self.letter}"
