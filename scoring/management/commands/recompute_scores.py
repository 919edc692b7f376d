"""manage.py recompute_scores [--account EXTERNAL_ID | --segment SEGMENT] [--workers]"""

from __future__ import annotations

import datetime as dt
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from accounts.models import Account
from scoring.errors import ScoringError
from scoring.models import ScoringRun
from scoring.selectors import past_run_effect
from scoring.services import (
    scoring_run_create,
    scoring_run_execute,
    scoring_run_help,
    scoring_run_start,
)


class Command(BaseCommand):
    help = (
        "Recompute health scores for all accounts, one segment or one account. By default "
        "the chunks are scored in this process; --workers hands them to the Celery workers "
        "and follows the run's progress. A recompute of all accounts while one is under way "
        "(the nightly) starts no second run: it helps that one and follows it."
    )

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--account", metavar="EXTERNAL_ID", help="One account, by external id.")
        scope.add_argument("--segment", choices=Account.Segment.values, help="One segment.")
        parser.add_argument("--as-of", help="Score as of this moment (ISO 8601); default now.")
        parser.add_argument("--chunk-size", type=int, help="Accounts per chunk.")
        parser.add_argument(
            "--workers", action="store_true", help="Dispatch to Celery workers and wait."
        )

    def handle(
        self,
        *args,
        account=None,
        segment=None,
        as_of=None,
        chunk_size=None,
        workers=False,
        **options,
    ):
        target = None
        if account:
            target = Account.objects.filter(external_id=account).first()
            if target is None:
                raise CommandError(f"No account with external id {account!r}.")
        when = None
        if as_of:
            when = parse_datetime(as_of)
            if when is None:
                raise CommandError(f"--as-of {as_of!r} is not an ISO 8601 date-time.")
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
        scope = (
            ScoringRun.Scope.ACCOUNT
            if target
            else ScoringRun.Scope.SEGMENT
            if segment
            else ScoringRun.Scope.ALL
        )
        created = True
        try:
            if scope == ScoringRun.Scope.ALL and when is None:
                # One full recompute at a time: join the nightly if it is under way.
                run, created = scoring_run_start(trigger="command", chunk_size=chunk_size)
                if run is None:
                    raise CommandError(
                        "Another process is planning a full recompute this very moment; "
                        "run the command again in a few seconds to follow it."
                    )
            else:
                run = scoring_run_create(
                    scope=scope,
                    segment=segment or "",
                    account=target,
                    as_of=when,
                    trigger="command",
                    chunk_size=chunk_size,
                )
        except ScoringError as exc:
            raise CommandError(str(exc)) from None
        if not created:
            self.stdout.write(
                f"Run {run.pk} ({run.trigger}, started {run.created_at:%Y-%m-%d %H:%M}) is "
                "already recomputing every account: following it rather than starting another."
            )

        bar = tqdm(
            total=run.chunks_total,
            unit="chunk",
            desc=f"run {run.pk}",
            file=sys.stderr,
            disable=None,
        )
        try:
            if workers and created:
                from scoring.tasks import scoring_run_dispatch

                scoring_run_dispatch(run.pk)
            elif created:
                run = scoring_run_execute(run=run, progress=lambda: bar.update(1))
            elif not workers:
                # Others score the same run: take free chunks as a worker would.
                scoring_run_help(run_id=run.pk)
        except Exception as exc:
            bar.close()
            raise CommandError(f"Run {run.pk} failed: {exc}") from None
        while run.status in (ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING):
            time.sleep(1)
            run.refresh_from_db()
            bar.update(run.chunks_done - bar.n)
        bar.close()
        duration = run.duration.total_seconds() if run.duration else 0.0
        self.stdout.write(
            f"Run {run.pk} {run.get_status_display().lower()}: {run.accounts_scored} of "
            f"{run.accounts_total} accounts scored in {duration:.1f} s, "
            f"{run.band_changes} band changes, {run.score_drops} score drops."
        )
        if when is not None and run.status == ScoringRun.Status.SUCCEEDED:
            self._say_what_changed(run)
        if run.errors:
            self.stderr.write(run.errors)
        if run.status == ScoringRun.Status.FAILED:
            raise CommandError(f"Run {run.pk} failed.")

    def _say_what_changed(self, run: ScoringRun) -> None:
        """A past-dated run writes history for its date; say plainly whether the latest
        scores, which the pages and the API show, are now its own."""
        effect = past_run_effect(run=run)
        when = f"{run.as_of:%Y-%m-%d %H:%M} UTC"
        if not effect.kept_newer:
            self.stdout.write(
                f"History written as of {when}; it is now the latest score of "
                f"{effect.latest:,} account{'' if effect.latest == 1 else 's'}."
            )
            return
        newest = f"{effect.newest:%Y-%m-%d %H:%M}" if effect.newest else "later"
        said = (
            "the latest scores did not change"
            if not effect.latest
            else f"it is now the latest score of {effect.latest:,} "
            f"account{'' if effect.latest == 1 else 's'}"
        )
        self.stdout.write(
            self.style.WARNING(
                f"History written as of {when}, but {said}: {effect.kept_newer:,} "
                f"account{' has' if effect.kept_newer == 1 else 's have'} a newer score "
                f"(the newest from {newest} UTC), which the pages and the API keep showing. "
                "Backtests and score_as_of read the history for that date."
            )
        )
