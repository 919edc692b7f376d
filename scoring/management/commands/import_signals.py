"""manage.py import_signals FILE.csv"""

from __future__ import annotations

from django.core.management.base import CommandError
from tqdm import tqdm

from accounts.imports import CsvFileError, csv_file_open
from config.commands import ParagraphHelpCommand
from scoring.ingest import FIELD_ALIASES, signals_ingest

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
        header = [
            title.strip().lower().replace(" ", "_").replace("-", "_") for title in csv_file.header
        ]
        known = {alias for aliases in FIELD_ALIASES.values() for alias in aliases}
        for required in ("account", "metric", "value", "timestamp"):
            if not set(FIELD_ALIASES[required]) & set(header):
                raise CommandError(
                    f"{csv_file.path}: the header has no {required!r} column "
                    f"(columns: {', '.join(csv_file.header)})."
                )
        unknown = [title for title in header if title and title not in known]

        stream = getattr(self.stderr, "_out", self.stderr)
        accepted = duplicates = rows = 0
        rejected: list[tuple[int, dict]] = []
        batch: list[dict] = []
        lines: list[int] = []

        def flush():
            nonlocal accepted, duplicates
            report = signals_ingest(rows=batch)
            accepted += report.accepted
            duplicates += report.duplicates
            rejected.extend((lines[index], errors) for index, errors in report.rejected)
            bar.update(len(batch))
            batch.clear()
            lines.clear()

        try:
            with tqdm(
                total=csv_file.records,
                unit="rows",
                file=stream,
                disable=not stream.isatty(),
                leave=False,
            ) as bar:
                for line, cells in csv_file.rows():
                    rows += 1
                    if len(cells) != len(header):
                        rejected.append(
                            (
                                line,
                                {"row": [f"has {len(cells)} cells; the header has {len(header)}."]},
                            )
                        )
                        bar.update(1)
                        continue
                    batch.append(dict(zip(header, cells, strict=True)))
                    lines.append(line)
                    if len(batch) >= BATCH:
                        flush()
                if batch:
                    flush()
        except CsvFileError as error:
            raise CommandError(str(error)) from None

        for line, errors in sorted(rejected):
            reasons = "; ".join(
                f"{name}: {m.rstrip('.')}" for name, ms in errors.items() for m in ms
            )
            self.stderr.write(f"rejected line {line}: {reasons}.")
        summary = (
            f"{csv_file.path}: {rows} rows read; signals stored: {accepted}, "
            f"duplicates: {duplicates}, rows rejected: {len(rejected)}."
        )
        if unknown:
            summary += f"\nIgnored columns: {', '.join(unknown)}."
        if rows and len(rejected) == rows:
            raise CommandError(f"{summary}\nNothing imported: every row was rejected.")
        self.stdout.write(summary, self.style.WARNING if rejected else self.style.SUCCESS)
