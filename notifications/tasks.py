"""Celery entry points of notifications: thin, one service call each, idempotent (an
occurrence is told once: ``notification_once``)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from config.locks import run_alone
from config.tasking import RETRY
from notifications.services import level_worse_notify


@shared_task(**RETRY)
def notify_score_events() -> int | None:
    """After each recompute, and hourly: tell people of their accounts gone to a worse
    risk level. None when another process is doing it right now."""
    return run_alone("notifications-level-worse", level_worse_notify, now=timezone.now())
