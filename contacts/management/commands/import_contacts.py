from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from accounts.imports import CsvFileError, csv_file_open
from config.commands import ParagraphHelpCommand, import_finish
from contacts.imports import COLUMNS, contacts_import_csv

HELP = f"""Create or update contacts from a CSV file, matched by email within their account.

The first row names the columns: {", ".join(COLUMNS)} (account, name and email are
required; case, spaces and hyphens in the names do not matter). account is the account's
external id; role is a role's key (champion, decision_maker, …: Django admin → Contact
roles); is_primary is yes or no (one primary per account: a later primary row takes the
place). The rules are the API's and admin's. Comma, semicolon and tab separators are
recognised; the file must be UTF-8, or UTF-16 with its byte-order mark.

Good rows are saved even when others are rejected. Each rejected row is printed to
stderr with its line number (the header is line 1) and the reason per field. When a
contact (account and email) appears twice, the later row is applied over the earlier one
and both lines are reported. The exit status is 0 when at least one row was imported
(or the file has no rows), and 1 when every row was rejected or the file cannot be read."""


class Command(ParagraphHelpCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the CSV file")

    def handle(self, *args, file: str, **options) -> None:
        try:
            csv_file = csv_file_open(path=file)
            report = contacts_import_csv(csv_file=csv_file)
        except CsvFileError as error:
            raise CommandError(str(error)) from None
        for rejection in report.rejected:
            self.stderr.write(f"rejected {rejection}")
        for duplicate in report.duplicates:
            self.stderr.write(f"duplicate {duplicate}")
        summary = (
            f"{csv_file.path}: {report.rows} rows read; contacts created: {report.created}, "
            f"updated: {report.updated}; rows rejected: {len(report.rejected)}, "
            f"repeating a contact: {len(report.duplicates)}."
        )
        if report.ignored_columns:
            summary += f"\nIgnored columns: {', '.join(report.ignored_columns)}."
        import_finish(self, summary=summary, rows=report.rows, rejected=len(report.rejected))
