"""Notifications: one row per person and occurrence (a task given to them, a task of
theirs overdue, an account of theirs worse off, a playbook's note for them), and each
person's settings for them and for the daily digest."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account


class Kind(models.TextChoices):
    TASK_ASSIGNED = "task_assigned", "A task given to me"
    TASK_OVERDUE = "task_overdue", "A task overdue"
    LEVEL_WORSE = "level_worse", "An account entered a worse risk level"
    PLAYBOOK_NOTE = "playbook_note", "A playbook's note on my task"
    ACCOUNTS_GIVEN = "accounts_given", "Accounts given to me"


class Notification(models.Model):
    """One thing a person was told, with a link to its object. ``key`` names the
    occurrence (``task:42:assigned:7``): the same occurrence is never told twice to
    the same person (``notification_once``), however often its producer runs."""

    Kind = Kind

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=500, help_text="Where the notification leads.")
    key = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A person's list, newest first (ids grow with time).
            models.Index(F("user"), F("id").desc(), name="notification_recent"),
            # The bell's count.
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return self.title


def _valid_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone (e.g. Europe/Berlin).")


def _default_kinds() -> list[str]:
    return list(Kind.values)


class NotificationSettings(models.Model):
    """A person's choices: which kinds they are told of, about their own work or their
    team's too (a manager), and the daily digest — whether, at which hour of their
    morning, in which time zone. A person without a row has the defaults."""

    class Scope(models.TextChoices):
        MINE = "mine", "My accounts and tasks"
        TEAM = "team", "My team's too"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="notification_settings",
    )
    kinds = models.JSONField(default=_default_kinds, help_text="The kinds told in the app.")
    scope = models.CharField(
        max_length=4,
        choices=Scope.choices,
        default=Scope.MINE,
        help_text="A manager may be told of their teams' accounts and tasks as well.",
    )
    digest = models.BooleanField(default=False, help_text="A daily email of the day's work.")
    digest_hour = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="The hour of the morning it is sent, in the time zone below.",
    )
    time_zone = models.CharField(
        max_length=64, default=settings.TIME_ZONE, validators=[_valid_time_zone]
    )

    class Meta:
        verbose_name_plural = "notification settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(digest_hour__gte=0, digest_hour__lte=23), name="digest_hour_in_day"
            )
        ]

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"
