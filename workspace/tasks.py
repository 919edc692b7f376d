"""Celery entry points of the workspace: thin, one service call each."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from config.locks import run_alone
from config.tasking import RETRY
from workspace.digest import digests_send


@shared_task(**RETRY)
def send_digests() -> int | None:
    """Every quarter hour: the daily digests whose hour has come (once per person and
    day). None when another process is sending them right now."""
    return run_alone("workspace-digests", digests_send, now=timezone.now())
