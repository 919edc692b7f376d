"""How long score history and raw signals are kept: one policy row, set in admin and
applied by compaction (``scoring.services.history``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from config.singletons import SingletonModel

# The account page's chart shows 90 days and trend_90d compares with the score 90 days
# earlier: both read daily rows, so the daily tier is never shorter than this.
MIN_DAILY_DAYS = 92


class RetentionPolicy(SingletonModel):
    """The one retention policy (``RetentionPolicy.current()``), in tiers by age:

    - younger than ``daily_days``: every score is kept;
    - the next ``weekly_days``: one score per account per week (Monday to Sunday, UTC),
      the week's last;
    - the next ``monthly_days`` (empty: for ever): one per account per calendar month
      (UTC), the month's last;
    - older than every tier: nothing (a finite ``monthly_days`` only).

    A score the latest health or a score event points at is always kept. ``keep_everything``
    turns compaction off. Raw signals older than the longest roll-up window of any model
    version plus ``signals_margin_days`` are removed when ``signals_enabled``.
    """

    keep_everything = models.BooleanField(
        default=False, help_text="Keep every score for ever: compaction removes nothing."
    )
    daily_days = models.PositiveIntegerField(
        default=400,
        help_text=f"Every score is kept this many days (at least {MIN_DAILY_DAYS}: the 90-day "
        "chart and trend read daily scores).",
    )
    weekly_days = models.PositiveIntegerField(
        default=730, help_text="Then one score per account per week for this many days (0: none)."
    )
    monthly_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Then one score per account per month for this many days (empty: for ever; "
        "0: none, older scores are removed).",
    )
    signals_enabled = models.BooleanField(
        default=False,
        help_text="Remove raw signals that no roll-up window reaches any more.",
    )
    signals_margin_days = models.PositiveIntegerField(
        default=90,
        help_text="Raw signals are kept this many days beyond the longest roll-up window: "
        "scores as of the dates in this margin can still be recomputed exactly.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "retention policy"
        verbose_name_plural = "retention policy"
        constraints = [
            models.CheckConstraint(
                condition=Q(pk=1), name="retentionpolicy_one_row", violation_error_message=""
            ),
            models.CheckConstraint(
                condition=Q(daily_days__gte=MIN_DAILY_DAYS), name="retentionpolicy_daily_min"
            ),
        ]

    def __str__(self) -> str:
        return "Retention policy"

    def clean(self) -> None:
        if self.daily_days is not None and self.daily_days < MIN_DAILY_DAYS:
            raise ValidationError(
                {
                    "daily_days": f"At least {MIN_DAILY_DAYS} days: the account page's 90-day "
                    "chart and the 90-day trend read every daily score."
                }
            )

    def describe(self) -> str:
        """The policy in words, for messages that say what it removed."""
        if self.keep_everything:
            return "every score is kept"
        parts = [f"every score for {self.daily_days} days"]
        if self.weekly_days:
            parts.append(f"one a week for {self.weekly_days} more")
        if self.monthly_days is None:
            parts.append("one a month after that")
        elif self.monthly_days:
            parts.append(f"one a month for {self.monthly_days} more, then none")
        else:
            parts.append("none after that")
        return ", ".join(parts)


class CompactionRun(models.Model):
    """One application of the retention policy (``scoring.services.history_compact``):
    what it kept and removed. ``signals_cutoff`` is written before any signal is
    removed, so that what cannot be recomputed any more is known even if the run is
    stopped half-way (``scoring.analysis.asof.signals_removed_before``)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    as_of = models.DateTimeField(help_text="The moment the policy's ages were counted from.")
    policy = models.CharField(max_length=200, help_text="The policy applied, in words.")
    # Every score older than the daily tier looked at, not only where the tiers' edges
    # moved since the last run.
    full = models.BooleanField(default=True)
    # Scores before this moment were thinned to the weekly and monthly tiers.
    scores_daily_cutoff = models.DateTimeField(null=True, blank=True)
    scores_removed = models.BigIntegerField(default=0)
    partitions_dropped = models.JSONField(default=list, blank=True)
    # Raw signals before this moment were removed (but each account's latest per metric).
    signals_cutoff = models.DateTimeField(null=True, blank=True)
    signals_removed = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Compaction of {self.started_at:%Y-%m-%d %H:%M}"
