"""Metrics, signals, scoring models and the health scores they produce.

The scoring maths lives in ``scoring/engine.py`` (pure Python, the reference) and
``scoring/compiler.py`` (the same rules as SQL, the fast path); these models only hold
configuration and results. Scoring never imports playbooks: band changes and score
drops are written here as ``ScoreEvent`` rows, which playbooks reads and claims.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import AT_RISK_LEVELS, Account, RiskLevel


class Metric(models.Model):
    """A named measure and how its raw signals roll up into the value scoring sees."""

    class Rollup(models.TextChoices):
        LATEST = "latest", "Latest value"
        SUM = "sum", "Sum over window"
        COUNT = "count", "Count over window"
        AVG = "avg", "Average over window"
        MIN = "min", "Minimum over window"
        MAX = "max", "Maximum over window"
        CHANGE_PCT = "change_pct", "Change % of the sum against the previous window"
        DAYS_SINCE = "days_since", "Days since the last signal"

    WINDOWED = {Rollup.SUM, Rollup.COUNT, Rollup.AVG, Rollup.MIN, Rollup.MAX, Rollup.CHANGE_PCT}

    key = models.SlugField(
        max_length=64,
        unique=True,
        help_text="Used by the API and imports, e.g. logins, nps, open_tickets.",
    )
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=30, blank=True, help_text="e.g. %, tickets, logins/day")
    description = models.TextField(blank=True)
    rollup = models.CharField(max_length=16, choices=Rollup.choices, default=Rollup.LATEST)
    window_days = models.PositiveIntegerField(
        default=30, help_text="Length of the roll-up window in days (windowed roll-ups only)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(window_days__gte=1), name="metric_window_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def describe_rollup(self) -> str:
        return describe_rollup(self.rollup, self.window_days)


def describe_rollup(rollup: str, window_days: int) -> str:
    label = Metric.Rollup(rollup).label
    if rollup in Metric.WINDOWED:
        return f"{label} of {window_days} days"
    return label


def rollup_unit(rollup: str, unit: str) -> str:
    """The unit of a rolled-up value: days for "days since", per cent for a change,
    the metric's own unit otherwise."""
    if rollup == Metric.Rollup.DAYS_SINCE:
        return "days"
    if rollup == Metric.Rollup.CHANGE_PCT:
        return "%"
    return unit


class Signal(models.Model):
    """One observation of a metric for an account. Append-only history.

    ``client_id`` is the sender's own id for the observation: a signal whose client id
    was stored before is a duplicate and is not stored again (the database enforces it).
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="signals")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="signals")
    value = models.FloatField()
    timestamp = models.DateTimeField()
    source = models.CharField(max_length=50, blank=True)
    client_id = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["account", "metric", "timestamp"], name="signal_account_metric_ts"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client_id"],
                condition=Q(client_id__isnull=False),
                name="signal_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id}={self.value} @ {self.timestamp:%Y-%m-%d %H:%M}"


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
    # Segment filter: empty means "any". The most specific active model that matches wins.
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

    @property
    def specificity(self) -> int:
        return sum(bool(f) for f in (self.segment, self.plan, self.lifecycle_stage))

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

    ``params`` by rule (validated in ``scoring.services.component_params_errors``):
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
        from scoring.services import component_params_errors

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


class ScoringRun(models.Model):
    """One recompute: all accounts, a segment or one account, as of a moment."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Scope(models.TextChoices):
        ALL = "all", "All accounts"
        SEGMENT = "segment", "One segment"
        ACCOUNT = "account", "One account"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.ALL)
    segment = models.CharField(max_length=20, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    as_of = models.DateTimeField(help_text="Signals before this moment are scored.")
    trigger = models.CharField(max_length=20, default="manual", help_text="nightly, manual, api…")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_ids = models.JSONField(
        default=list, help_text="The active model versions when the run was planned."
    )
    chunk_size = models.PositiveIntegerField(default=5000)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_scored = models.PositiveIntegerField(default=0)
    band_changes = models.PositiveIntegerField(default=0)
    score_drops = models.PositiveIntegerField(default=0)
    errors = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.get_scope_display()}, {self.get_status_display()})"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def progress_pct(self) -> int:
        if not self.chunks_total:
            return 100 if self.status == self.Status.SUCCEEDED else 0
        return round(100 * self.chunks_done / self.chunks_total)


class ScoringRunChunk(models.Model):
    """A contiguous range of account ids within a run, scored in one transaction.

    ``done`` flips in the same transaction that writes the chunk's scores, so a chunk
    is either wholly scored once or not at all, however often its task is delivered.

    A worker claims a chunk (``claimed_at``) and then scores it holding its row lock,
    which lives exactly as long as the worker's database session: a chunk that is not
    done, not locked and not claimed in the last few seconds is free, and the next
    message of its run takes it (see ``scoring.services.scoring_chunk_claim``).
    ``dispatched_at`` is when a message was last sent for the run while it was free.
    """

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_account_id = models.BigIntegerField()
    last_account_id = models.BigIntegerField()
    done = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    scored = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last began scoring it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="chunk_index_once"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class FlapState(models.Model):
    """Where flap control stands after a scoring (scoring.engine.confirm_band), beside the
    raw and the confirmed band: kept on every history row and on the latest health."""

    # A band change on its way to being confirmed: the band, how many scorings in a
    # row it has held, since when. Empty when the score is in the confirmed band.
    pending_band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    pending_count = models.PositiveSmallIntegerField(default=0)
    pending_since = models.DateTimeField(null=True)
    # The first score under another model (a new version was activated, or the account
    # moved to another model's filter): its band is a new baseline, not a change.
    rebaseline = models.BooleanField(default=False)

    class Meta:
        abstract = True


class HealthScore(FlapState):
    """One computation of one account's health: the history row.

    ``breakdown`` is a list aligned with the model version's components (by position):
    ``[raw value, component score or points]`` with ``null`` where data was missing.
    Model versions are immutable once active, so weights and rules are read from the
    version; contributions are derived (see ``scoring.selectors.score_breakdown``).
    """

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on account and run: healthscore_account_time and
    # healthscore_once_per_run start with them and serve the same lookups. Each index
    # is written for every history row, a million a night; and with a separate run
    # index the planner, blind to a run still being written, read the whole run for
    # every chunk instead of the chunk's slice of healthscore_once_per_run.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="health_scores", db_index=False
    )
    run = models.ForeignKey(
        ScoringRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scores",
        db_index=False,
    )
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="scores")
    score = models.FloatField(null=True, help_text="Empty when no component had data.")
    # The band the score falls in (raw), and the band the account is in after flap
    # control (scoring.engine.confirm_band): the confirmed band is what counts.
    band = models.ForeignKey(Band, null=True, on_delete=models.PROTECT, related_name="+")
    confirmed_band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    completeness = models.FloatField(help_text="Share (0–1) of the weight that had data.")
    breakdown = models.JSONField(default=list)
    # What moved the score since the account's previous one (scoring.attribution):
    # {"from": previous score id, "change": points or null, "parts": [per component,
    # aligned like breakdown] or null when the model version changed}. Null: first score.
    delta = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["account", "computed_at"], name="healthscore_account_time"),
        ]
        constraints = [
            # One score per account per run: a redelivered chunk cannot add a second.
            models.UniqueConstraint(fields=["run", "account"], name="healthscore_once_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.score} @ {self.computed_at:%Y-%m-%d}"


class AccountHealth(FlapState):
    """The latest health of an account, kept narrow so a nightly update of a million
    rows writes as little as possible; pages join it for score, band and trend."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.CASCADE, related_name="health"
    )
    health_score = models.ForeignKey(HealthScore, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField(null=True)
    # The confirmed band (what lists, tiles and playbooks go by) and its risk level,
    # the raw band, and flap control's state as in the history row. Band lookups use
    # accounthealth_band_score, which starts with the band.
    band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    raw_band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    completeness = models.FloatField()
    computed_at = models.DateTimeField()
    trend_7d = models.FloatField(null=True, help_text="Change against the score 7 days earlier.")
    trend_30d = models.FloatField(null=True)
    trend_90d = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["band", "score"], name="accounthealth_band_score"),
            models.Index(fields=["level", "score"], name="accounthealth_level_score"),
            models.Index(fields=["score"], name="accounthealth_score"),
            models.Index(fields=["trend_30d"], name="accounthealth_trend30"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.score}"


class ScoreEvent(models.Model):
    """A confirmed band change or a score drop found by a computation: exactly one per
    kind per computation (the unique constraint), consumed by playbooks through
    ``claimed_at``. Bands are the confirmed ones (after flap control)."""

    class Kind(models.TextChoices):
        BAND_CHANGED = "band_changed", "Band changed"
        SCORE_DROPPED = "score_dropped", "Score dropped"

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="score_events")
    health_score = models.ForeignKey(HealthScore, on_delete=models.CASCADE, related_name="events")
    run = models.ForeignKey(
        ScoringRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    from_band = models.ForeignKey(
        Band, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_band = models.ForeignKey(
        Band, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score_before = models.FloatField(null=True)
    score_after = models.FloatField(null=True)
    # Caused by a change of scoring model rather than by the account's data: recorded,
    # but playbooks act on it only when they opt in.
    rebaseline = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "created_at"], name="scoreevent_account_time"),
            models.Index(
                fields=["id"], condition=Q(claimed_at__isnull=True), name="scoreevent_unclaimed"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["health_score", "kind"], name="scoreevent_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.account_id}"

    @property
    def delta(self) -> float | None:
        if self.score_before is None or self.score_after is None:
            return None
        return self.score_after - self.score_before

    @property
    def from_level(self) -> str:
        return self.from_band.level if self.from_band_id else ""

    @property
    def to_level(self) -> str:
        return self.to_band.level if self.to_band_id else ""


class CsmSentiment(models.Model):
    """A CSM's manual pulse on an account (1–5 with a note). It is also stored as a
    signal of the ``csm_sentiment`` metric so that models can score it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sentiments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    value = models.PositiveSmallIntegerField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=1) & Q(value__lte=5), name="sentiment_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value}/5 on {self.account_id}"
