"""What scoring reads: metrics (named measures and their roll-ups), the signals that
record them, and the CSM's own pulse on an account (also stored as a signal)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account


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


def look_back_days(rollup: str, window_days: int) -> int:
    """Days of signals a roll-up looks back over: its window (two for a change against
    the previous window); 0 for latest and days-since, which take any history."""
    if rollup not in Metric.WINDOWED:
        return 0
    return window_days * (2 if rollup == Metric.Rollup.CHANGE_PCT else 1)


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
