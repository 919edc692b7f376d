"""manage.py rebuild_figures"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scoring.figures import figures_rebuild


class Command(BaseCommand):
    help = (
        "Compute the book's figures (the home and team pages' counts, ARR and score "
        "distributions) from scratch. Database triggers keep them as accounts and scores "
        "change; run this after a restore or a bulk load made with triggers disabled. "
        "Safe to run at any time and more than once: writes to accounts wait for it."
    )

    def handle(self, *args, **options) -> None:
        rows = figures_rebuild()
        self.stdout.write(
            f"Rebuilt the book's figures: {rows['book']:,} book rows,"
            f" {rows['scores']:,} score rows."
        )
