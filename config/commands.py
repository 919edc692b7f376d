"""What the management commands share."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter


class HelpFormatter(argparse.RawDescriptionHelpFormatter, DjangoHelpFormatter):
    """Django's help layout, keeping the paragraphs of the description as written."""


class ParagraphHelpCommand(BaseCommand):
    """A command whose ``help`` is several paragraphs, printed as written."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)


def import_finish(command: BaseCommand, *, summary: str, rows: int, rejected: int) -> None:
    """End an import command with its summary: an error (exit status 1) when every one
    of ``rows`` was rejected, a warning when some were, success otherwise."""
    if rows and rejected == rows:
        raise CommandError(f"{summary}\nNothing imported: every row was rejected.")
    command.stdout.write(summary, command.style.WARNING if rejected else command.style.SUCCESS)
