"""What the management commands share."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, DjangoHelpFormatter


class HelpFormatter(argparse.RawDescriptionHelpFormatter, DjangoHelpFormatter):
    """Django's help layout, keeping the paragraphs of the description as written."""


class ParagraphHelpCommand(BaseCommand):
    """A command whose ``help`` is several paragraphs, printed as written."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)
