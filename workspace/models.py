"""The weights of "work on next": one row, set in admin (``PriorityWeights.current()``)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from config.singletons import SingletonModel


def _weight(default: float, help_text: str, verbose_name: str | None = None) -> models.FloatField:
    return models.FloatField(
        verbose_name,
        default=default,
        validators=[MinValueValidator(0), MaxValueValidator(1000)],
        help_text=help_text,
    )


class PriorityWeights(SingletonModel):
    """How much each part of an account's situation counts towards its priority in
    "work on next" (docs/workspace.md has the formula). Points add up; 0 leaves a part
    out."""

    critical = _weight(40, "Points for an account at the Critical level.")
    at_risk = _weight(25, "Points for an account at the At risk level.")
    neutral = _weight(5, "Points for an account at the Neutral level.")
    unscored = _weight(10, "Points for an account not scored yet.")
    arr = _weight(
        5,
        "Points per tenfold of ARR in thousands: $1k counts 1.5 of them, $100k 10, $1M 15.",
        "ARR",
    )
    renewal = _weight(
        30, "Points for a renewal today, falling to none at the end of the renewal horizon."
    )
    renewal_horizon_days = models.PositiveIntegerField(
        "renewal horizon (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
        help_text="Renewals further away than this count nothing.",
    )
    overdue = _weight(10, "Points per overdue task on the account, for up to three of them.")
    drop = _weight(10, "Points per 10 points the score fell in 30 days.")
    untouched = _weight(
        5,
        "Points per 30 days since the last touch (a note written, a task done, a sentiment "
        "recorded), for up to 90 days; never touched counts as 90.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    # The fields that are points (the horizon is days).
    WEIGHTS = (
        "critical",
        "at_risk",
        "neutral",
        "unscored",
        "arr",
        "renewal",
        "overdue",
        "drop",
        "untouched",
    )

    class Meta:
        verbose_name = "work-on-next priority"
        verbose_name_plural = "work-on-next priority"
        constraints = [
            models.CheckConstraint(
                condition=Q(pk=1), name="priorityweights_one_row", violation_error_message=""
            )
        ]

    def __str__(self) -> str:
        return "Work-on-next priority"
