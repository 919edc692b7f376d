"""manage.py import_signals FILE.csv"""

from __future__ import annotations

from django.core.management.base import CommandError
from tqdm import tqdm

from accounts.imports import CsvFileError, csv_file_open
from config.commands import ParagraphHelpCommand, import_finish
from scoring.errors import ScoringError
from scoring.ingest import signals_import_csv

BATCH = 5000

HELP = """Append signals from a CSV file.

The first row names the columns: account (the account's external id), metric (the
metric's key), value (a number), timestamp (ISO 8601, e.g. 2026-11-01T10:00:00Z; a
time without an offset is taken as UTC; a date alone is midnight UTC), and optionally
source and id (your own id for the row: a row whose id was imported before is counted
as a duplicate and not stored again, so re-running an import is safe).

Good rows are stored even when others are rejected. Each rejected row is printed to
stderr with its line number (the header is line 1) and the reason per field. The exit
status is 0 when at least one row was stored or counted as a duplicate, and 1 when
every row was rejected or the file cannot be read."""


class Command(ParagraphHelpCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file")

    def handle(self, *args, file: str, **options):
        try:
            csv_file = csv_file_open(path=file)
        except CsvFileError as error:
            raise CommandError(str(error)) from None
        stream = getattr(self.stderr, "_out", self.stderr)
        try:
            with tqdm(
                total=csv_file.records,
                unit="rows",
                file=stream,
                disable=not stream.isatty(),
                leave=False,
            ) as bar:
                result = signals_import_csv(csv_file=csv_file, batch_size=BATCH, on_rows=bar.update)
        except (CsvFileError, ScoringError) as error:
            raise CommandError(str(error)) from None

        for line, errors in result.rejected:
            reasons = "; ".join(
                f"{name}: {m.rstrip('.')}" for name, ms in errors.items() for m in ms
            )
            self.stderr.write(f"rejected line {line}: {reasons}.")
        summary = (
            f"{csv_file.path}: {result.rows} rows read; signals stored: {result.accepted}, "
            f"duplicates: {result.duplicates}, rows rejected: {len(result.rejected)}."
        )
        if result.ignored_columns:
            summary += f"\nIgnored columns: {', '.join(result.ignored_columns)}."
        import_finish(self, summary=summary, rows=result.rows, rejected=len(result.rejected))
