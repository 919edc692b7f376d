"""manage.py import_snapshot FILE.csv --id COLUMN --label COLUMN [--snapshot DATE] …"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from accounts.models import Account
from config.commands import ParagraphHelpCommand
from scoring.snapshots import SnapshotError, SnapshotSpec, snapshot_import

HELP = """Import a customer base that has no timestamps: one row per customer with an id, a
churn label and columns. Every other column becomes a metric (numbers as they are; a
category such as a plan, a contract type or a region as one 0/1 metric per value) and
each row's cells signals observed --observed-days-before days before --snapshot;
customers labelled as churned (1, yes, true, or a date) leave on the snapshot date (or
that date). So `backtest MODEL --as-of SNAPSHOT-1 --horizon DAYS` scores them as they
stood and counts exactly the churned ones. The whole file is checked first: any
problem is reported with its line and nothing is imported. See docs/snapshots.md."""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--snapshot: {value!r} is not a date (YYYY-MM-DD).") from None


def _columns(value: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (value or "").split(",") if part.strip())


class Command(ParagraphHelpCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--id", required=True, help="the column with each customer's id")
        parser.add_argument(
            "--label", required=True, help="the churn column: 1/yes/true, 0/no/false, or a date"
        )
        parser.add_argument("--snapshot", help="the date the file describes (default: today)")
        parser.add_argument("--name", default="", help="a column to name the accounts by")
        parser.add_argument("--arr", default="", help="a column holding each customer's ARR")
        parser.add_argument(
            "--prefix",
            default="",
            help="put before every external id and metric key (e.g. bank_), to keep "
            "one base apart from another",
        )
        parser.add_argument(
            "--segment", default=Account.Segment.SMB, choices=Account.Segment.values
        )
        parser.add_argument(
            "--categorical", help="columns to read as categories even if they hold numbers"
        )
        parser.add_argument("--ignore", help="columns that are not inputs (comma-separated)")
        parser.add_argument(
            "--observed-days-before",
            type=int,
            default=30,
            help="how long before the snapshot the columns were observed (default 30): the "
            "backtest's horizon",
        )

    def handle(self, *args, file: str, snapshot: str | None, **options) -> None:
        days = options["observed_days_before"]
        if days < 1:
            raise CommandError("--observed-days-before must be at least 1.")
        spec = SnapshotSpec(
            id_column=options["id"],
            label_column=options["label"],
            snapshot=_date(snapshot) if snapshot else timezone.localdate(),
            name_column=options["name"],
            arr_column=options["arr"],
            prefix=options["prefix"],
            segment=options["segment"],
            categorical=_columns(options["categorical"]),
            ignore=_columns(options["ignore"]),
            observed_days_before=days,
        )
        try:
            result = snapshot_import(path=Path(file), spec=spec)
        except SnapshotError as exc:
            raise CommandError(str(exc)) from None
        out = self.stdout.write
        out(
            f"{file}: {result.customers:,} customers ({result.churned:,} churned); accounts "
            f"created: {result.accounts_created:,}, updated: {result.accounts_updated:,}; "
            f"signals stored: {result.signals_stored:,}, already there: "
            f"{result.signals_duplicate:,} (observed {result.observed_at:%Y-%m-%d %H:%M} UTC)."
        )
        out("Metrics:")
        for column in result.columns:
            if column.is_category:
                out(f"  {column.title} (category): {', '.join(column.metric_keys())}")
            else:
                out(f"  {column.title} (number): {column.key}")
        out(
            self.style.SUCCESS(
                "Score them with a model over these metrics (admin: Scoring models), then:\n"
                f"  manage.py backtest MODEL --as-of {result.backtest_date:%Y-%m-%d} "
                f"--horizon {result.horizon_days} --suggest"
            )
        )
