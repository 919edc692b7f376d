"""manage.py compact_history [--as-of MOMENT]"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scoring.models import RetentionPolicy
from scoring.services import history_compact


class Command(BaseCommand):
    help = (
        "Apply the retention policy (admin: Scoring › Retention policy) to score history and "
        "raw signals now: what the daily history job does after making partitions. Safe to "
        "run again or to stop: it removes nothing more than the policy says."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--as-of", help="Count ages from this moment (ISO 8601); default now.")

    def handle(self, *args, as_of: str | None = None, **options) -> None:
        now = timezone.now()
        if as_of:
            parsed = parse_datetime(as_of)
            if parsed is None:
                raise CommandError(f"--as-of {as_of!r} is not a moment (ISO 8601).")
            now = parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)
        policy = RetentionPolicy.current()
        self.stdout.write(f"Policy: {policy.describe()}.")
        run = history_compact(now=now, policy=policy)
        dropped = ", ".join(run.partitions_dropped) or "none"
        self.stdout.write(
            f"{run.scores_removed:,} scores removed (partitions dropped: {dropped}); "
            f"{run.signals_removed:,} raw signals removed"
            + (f" (before {run.signals_cutoff:%Y-%m-%d})." if run.signals_cutoff else " (off).")
        )
