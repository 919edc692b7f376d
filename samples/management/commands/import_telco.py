"""manage.py import_telco FILE.csv [--snapshot DATE]"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from samples.telco import OBSERVED_DAYS_BEFORE, TelcoFileError, telco_import


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--snapshot: {value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Import the IBM Telco Customer Churn sample (7,043 customers, one snapshot) as "
        "accounts, signals, metrics and a hand-weighted model 'telco', to backtest on a "
        "real customer base. Customers who churned leave on the snapshot date; every "
        f"column is a signal observed {OBSERVED_DAYS_BEFORE} days before it. See docs/telco.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of Telco-Customer-Churn.csv")
        parser.add_argument(
            "--snapshot",
            help="the date the file describes, YYYY-MM-DD (default: today)",
        )

    def handle(self, *args, file: str, snapshot: str | None, **options) -> None:
        day = _date(snapshot) if snapshot else timezone.localdate()
        try:
            result = telco_import(path=Path(file), snapshot=day)
        except TelcoFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{file}: {result.customers} customers ({result.churned} churned on {day:%Y-%m-%d}); "
            f"accounts created: {result.accounts_created}, updated: {result.accounts_updated}; "
            f"signals stored: {result.signals_stored}, already there: {result.signals_duplicate}."
        )
        made = "created and activated" if result.model_created else "kept as it was"
        self.stdout.write(f"Model {result.model} {made}.")
        self.stdout.write(
            self.style.SUCCESS(
                "Backtest it with:\n"
                f"  manage.py backtest {result.model.key} --as-of {result.backtest_date:%Y-%m-%d} "
                "--horizon 30 --suggest"
            )
        )
