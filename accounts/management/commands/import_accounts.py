from __future__ import annotations

from django.core.management.base import (
    CommandError,
    CommandParser,
)
from tqdm import tqdm

from accounts.imports import CsvFileError, accounts_import_csv, csv_file_open
from accounts.services import ACCOUNT_FIELDS, UPSERT_BATCH_SIZE
from config.commands import ParagraphHelpCommand, import_finish

HELP = f"""Create or update accounts from a CSV file, matched by external_id.

The first row names the columns, any of:
  {", ".join(ACCOUNT_FIELDS[:6])},
  {", ".join(ACCOUNT_FIELDS[6:])}
(external_id and name are required; case, spaces and hyphens in the names do not
matter, so the account list's CSV export imports as it is). The rules are the API's
and admin's: owner is the username of an active user; parent is the external id of
the parent company, an account that exists or comes earlier in the file or in the same
batch of rows (never the account itself nor one of its subsidiaries); segment and lifecycle_stage
take their values or labels, in any case; a domain may be a website (stored as its
host, lower case, without www.); arr is a number; dates are YYYY-MM-DD; attributes
is a JSON object. Comma, semicolon and tab separators are
recognised; the file must be UTF-8, or UTF-16 with its byte-order mark (what
spreadsheets save as "Unicode text").

Any other column is kept in the account's attributes under its name (lower case,
underscores): merged into the stored attributes, or into the attributes column's
object when the file has one. Empty cells in segment, lifecycle_stage and arr leave
the stored value alone; empty cells elsewhere clear the field.

Good rows are saved even when others are rejected. Each rejected row is printed to
stderr with its line number (the header is line 1) and the reason per field. When
an external_id appears twice, the later row is applied over the earlier one (it
wins for every field it gives) and both lines are reported. The
exit status is 0 when at least one row was imported (or the file has no rows), and
1 when every row was rejected or the file cannot be read."""


class Command(ParagraphHelpCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the CSV file")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=UPSERT_BATCH_SIZE,
            help=f"rows validated and saved per transaction (default {UPSERT_BATCH_SIZE})",
        )

    def handle(self, *args, file: str, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            csv_file = csv_file_open(path=file)
            # The bar goes to the real stream (OutputWrapper would add a newline to each
            # redraw) and only when it is a terminal.
            stream = getattr(self.stderr, "_out", self.stderr)
            with tqdm(
                total=csv_file.records,
                unit="rows",
                file=stream,
                disable=not stream.isatty(),
                leave=False,
            ) as bar:
                report = accounts_import_csv(
                    csv_file=csv_file, batch_size=batch_size, on_progress=bar.update
                )
        except CsvFileError as error:
            raise CommandError(str(error)) from None

        for rejection in report.rejected:
            self.stderr.write(f"rejected {rejection}")
        for duplicate in report.duplicates:
            self.stderr.write(f"duplicate {duplicate}")

        summary = (
            f"{csv_file.path}: {report.rows} rows read; accounts created: {report.created}, "
            f"updated: {report.updated}; rows rejected: {len(report.rejected)}, "
            f"repeating an external id: {len(report.duplicates)}."
        )
        if report.extra_columns:
            summary += f"\nKept in attributes: {', '.join(report.extra_columns)}."
        if report.ignored_columns:
            columns = ", ".join(str(index) for index in report.ignored_columns)
            summary += f"\nIgnored columns without a name: {columns}."
        import_finish(self, summary=summary, rows=report.rows, rejected=len(report.rejected))
