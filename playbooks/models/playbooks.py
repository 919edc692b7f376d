"""A playbook: its trigger (with the trigger's parameters as plain fields), its
conditions on the account, and how far it may be trusted (cooldown, hold-out,
re-baselines, recovery)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import RISK_ORDER, Account, RiskLevel, Team
from renewals.models import RenewalOutcome
from scoring.models import Band, Metric

OUTCOME_KINDS = RenewalOutcome.Kind.values


def _band_names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


class Playbook(models.Model):
    """A trigger, optional conditions on the account, and ordered steps.

    The trigger's parameters are plain fields so that admins see and filter them; the
    ones a trigger needs are checked by ``clean``. Empty conditions match any account.
    """

    class Trigger(models.TextChoices):
        LEVEL_ENTERED = "level_entered", "Entered a risk level (or worse)"
        BAND_CHANGED = "band_changed", "Band changed"
        SCORE_DROPPED = "score_dropped", "Score dropped by X points within N days"
        SCORE_BELOW = "score_below", "Score below X"
        RENEWAL_WITHIN = "renewal_within", "Renewal within N days while in a band"
        METRIC_THRESHOLD = "metric_threshold", "Metric crossed a threshold"
        ACCOUNT_CREATED = "account_created", "Account created"
        CONTACT_LEFT = "contact_left", "A contact with a role left the customer"
        OUTCOME_RECORDED = "outcome_recorded", "A renewal outcome was recorded"

    EVENT_TRIGGERS = (Trigger.LEVEL_ENTERED, Trigger.BAND_CHANGED, Trigger.SCORE_DROPPED)

    class Direction(models.TextChoices):
        ABOVE = "above", "rises above"
        BELOW = "below", "falls below"

    class OnRecovery(models.TextChoices):
        CLOSE = "close", "Close its open tasks"
        KEEP = "keep", "Keep its tasks open"
        NOTIFY = "notify", "Keep them open and tell the assignee"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)

    # Trigger parameters (which ones apply depends on the trigger).
    level = models.CharField(
        max_length=10,
        choices=RiskLevel.choices,
        blank=True,
        help_text="Entered a risk level: the level, whatever model scored the account.",
    )
    or_worse = models.BooleanField(
        default=True,
        help_text="Entered a risk level: also when the account goes straight to a worse one "
        "(e.g. At risk or worse).",
    )
    from_band_name = models.CharField(
        max_length=60, blank=True, help_text="Band changed: from this band; empty = from any."
    )
    to_band_name = models.CharField(
        max_length=60, blank=True, help_text="Band changed: into this band."
    )
    drop_points = models.FloatField(
        null=True, blank=True, help_text="Score dropped: by at least this many points …"
    )
    within_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="… below the highest score of the last N days."
    )
    score_threshold = models.FloatField(
        null=True, blank=True, help_text="Score below: fires while the score is below this."
    )
    renewal_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Renewal within: the renewal date is at most N days away."
    )
    band_names = models.CharField(
        max_length=300,
        blank=True,
        help_text="Renewal within: while in one of these bands (comma-separated); empty = any.",
    )
    band_names_exclude = models.BooleanField(
        default=False,
        help_text="Renewal within: fire while in any band EXCEPT the ones named (e.g. not Healthy).",
    )
    contact_role = models.ForeignKey(
        "contacts.ContactRole",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A contact left: the role of the contact who left (e.g. Champion).",
    )
    outcome_kinds = models.CharField(
        max_length=60,
        blank=True,
        help_text="A renewal outcome: the kinds that fire it, comma-separated (renewed, "
        "expanded, downgraded, churned). Empty: any.",
    )
    metric = models.ForeignKey(
        Metric,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Metric crossed a threshold: the metric whose newest signal is compared.",
    )
    direction = models.CharField(max_length=5, choices=Direction.choices, blank=True)
    threshold = models.FloatField(null=True, blank=True)

    # Conditions on the account: empty = any.
    segment = models.CharField(max_length=20, choices=Account.Segment.choices, blank=True)
    plan = models.CharField(max_length=100, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=Account.Stage.choices, blank=True)
    arr_min = models.DecimalField(
        "ARR at least", max_digits=14, decimal_places=2, null=True, blank=True
    )
    arr_max = models.DecimalField(
        "ARR at most", max_digits=14, decimal_places=2, null=True, blank=True
    )
    owner_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only accounts owned by a member of this team.",
    )
    level_at_least = models.CharField(
        "risk level at least",
        max_length=10,
        choices=RiskLevel.choices,
        blank=True,
        help_text="Only accounts whose confirmed band is at this risk level or worse.",
    )

    cooldown_days = models.PositiveIntegerField(
        default=30,
        help_text="Fires at most once per account in this many days (0 = once per event).",
    )
    on_rebaseline = models.BooleanField(
        "act on re-baselines",
        default=False,
        help_text="Also fire when a band change or score comes only from a new scoring model "
        "version (a re-baseline). Off: a new version never raises alarms by itself.",
    )
    on_recovery = models.CharField(
        max_length=8,
        choices=OnRecovery.choices,
        default=OnRecovery.CLOSE,
        help_text="When the account recovers out of the level that fired a run (a confirmed "
        "band change), what happens to the run's open tasks.",
    )
    holdout_pct = models.PositiveSmallIntegerField(
        "hold-out %",
        default=0,
        help_text="Share of the accounts (chosen at random, once) whose runs are recorded as "
        "held out: no tasks, no messages. Comparing them with the others shows whether "
        "the playbook works.",
    )
    holdout_arr_max = models.DecimalField(
        "hold out only up to ARR",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Never hold out an account with more ARR than this (your largest accounts "
        "are always acted on; the comparison is made among the others).",
    )
    enabled_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the playbook was last switched on: it acts on events from then on "
        "(earlier ones only by an explicit backfill).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(arr_min__isnull=True)
                | Q(arr_max__isnull=True)
                | Q(arr_min__lte=models.F("arr_max")),
                name="playbook_arr_range",
            ),
            models.CheckConstraint(
                condition=Q(holdout_pct__lte=50), name="playbook_holdout_at_most_half"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def band_name_list(self) -> list[str]:
        return _band_names(self.band_names)

    @property
    def outcome_kind_list(self) -> list[str]:
        return [k.strip().lower() for k in self.outcome_kinds.split(",") if k.strip()]

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}

        def need(field: str, message: str) -> None:
            if getattr(self, field) in (None, ""):
                errors.setdefault(field, []).append(message)

        t = self.Trigger
        if self.trigger == t.LEVEL_ENTERED:
            need("level", "Choose the risk level the account enters.")
        elif self.trigger == t.BAND_CHANGED:
            need("to_band_name", "Name the band the account changes into.")
            if self.from_band_name and self.from_band_name == self.to_band_name:
                errors.setdefault("from_band_name", []).append(
                    "The band changed from must differ from the band changed into."
                )
        elif self.trigger == t.SCORE_DROPPED:
            need("drop_points", "Give the number of points the score must drop by.")
            need("within_days", "Give the number of days the drop is measured over.")
            if self.drop_points is not None and self.drop_points <= 0:
                errors.setdefault("drop_points", []).append("The drop must be more than 0 points.")
            if self.within_days == 0:
                errors.setdefault("within_days", []).append("Measure the drop over 1 day or more.")
        elif self.trigger == t.SCORE_BELOW:
            need("score_threshold", "Give the score below which the playbook fires.")
        elif self.trigger == t.RENEWAL_WITHIN:
            need("renewal_days", "Give how many days before the renewal date it fires.")
            if self.band_names_exclude and not self.band_name_list:
                errors.setdefault("band_names", []).append(
                    "Name the bands to exclude, or untick “exclude”."
                )
        elif self.trigger == t.METRIC_THRESHOLD:
            need("metric", "Choose the metric.")
            need("direction", "Choose whether the value rises above or falls below.")
            need("threshold", "Give the threshold value.")
        elif self.trigger == t.CONTACT_LEFT:
            need("contact_role", "Choose the role of the contact whose leaving fires it.")
        elif self.trigger == t.OUTCOME_RECORDED:
            unknown = [k for k in self.outcome_kind_list if k not in OUTCOME_KINDS]
            if unknown:
                errors.setdefault("outcome_kinds", []).append(
                    f"Not an outcome: {', '.join(unknown)} (one of: {', '.join(OUTCOME_KINDS)})."
                )
        elif self.trigger != t.ACCOUNT_CREATED:
            errors.setdefault("trigger", []).append("Choose a trigger.")

        named = {
            "from_band_name": [self.from_band_name] if self.from_band_name else [],
            "to_band_name": [self.to_band_name] if self.to_band_name else [],
            "band_names": self.band_name_list,
        }
        wanted = {name for names in named.values() for name in names}
        if wanted:
            known = set(Band.objects.filter(name__in=wanted).values_list("name", flat=True))
            for field, names in named.items():
                for name in names:
                    if name not in known:
                        all_names = sorted(set(Band.objects.values_list("name", flat=True)))
                        errors.setdefault(field, []).append(
                            f"No scoring model has a band named {name!r}; bands are: "
                            f"{', '.join(all_names) or 'none yet'}."
                        )
        if self.arr_min is not None and self.arr_max is not None and self.arr_min > self.arr_max:
            errors.setdefault("arr_max", []).append("ARR at most must not be below ARR at least.")
        if self.holdout_pct is not None and self.holdout_pct > 50:
            errors.setdefault("holdout_pct", []).append(
                "Hold out at most half of the runs (50 %): the rest must be acted on."
            )
        if errors:
            raise ValidationError(errors)

    def describe_trigger(self) -> str:
        t = self.Trigger
        if self.trigger == t.LEVEL_ENTERED:
            level = RiskLevel(self.level).label if self.level else "?"
            return f"entered {level}{' or worse' if self.or_worse else ''}"
        if self.trigger == t.BAND_CHANGED:
            return f"band changed from {self.from_band_name or 'any band'} to {self.to_band_name}"
        if self.trigger == t.SCORE_DROPPED:
            return f"score dropped by {self.drop_points:g}+ points within {self.within_days} days"
        if self.trigger == t.SCORE_BELOW:
            return f"score below {self.score_threshold:g}"
        if self.trigger == t.RENEWAL_WITHIN:
            bands = ", ".join(self.band_name_list)
            if not bands:
                where = "in any band"
            elif self.band_names_exclude:
                where = f"not in {bands}"
            else:
                where = f"in {bands}"
            return f"renewal within {self.renewal_days} days while {where}"
        if self.trigger == t.METRIC_THRESHOLD:
            return (
                f"{self.metric.key if self.metric is not None else '?'} "
                f"{self.get_direction_display()} {self.threshold:g}"
            )
        if self.trigger == t.OUTCOME_RECORDED:
            kinds = " or ".join(self.outcome_kind_list) or "any"
            return f"renewal outcome recorded ({kinds})"
        return "account created"

    def describe_conditions(self) -> str:
        parts = []
        if self.segment:
            parts.append(f"segment {self.get_segment_display()}")
        if self.plan:
            parts.append(f"plan {self.plan}")
        if self.lifecycle_stage:
            parts.append(f"stage {self.get_lifecycle_stage_display()}")
        if self.arr_min is not None:
            parts.append(f"ARR ≥ {self.arr_min:,.0f}")
        if self.arr_max is not None:
            parts.append(f"ARR ≤ {self.arr_max:,.0f}")
        if self.owner_team_id:
            parts.append(f"owner in team {self.owner_team}")
        if self.level_at_least:
            parts.append(f"level {RiskLevel(self.level_at_least).label} or worse")
        return ", ".join(parts) or "any account"

    def level_entered(self, *, from_level: str, to_level: str) -> bool:
        """Whether a confirmed change from ``from_level`` to ``to_level`` enters this
        playbook's level ("" = no level)."""
        if not self.level or not to_level:
            return False
        target = RISK_ORDER[self.level]
        after = RISK_ORDER[to_level]
        before = RISK_ORDER[from_level] if from_level else None
        if self.or_worse:
            return after >= target and (before is None or before < target)
        return after == target and before != target
