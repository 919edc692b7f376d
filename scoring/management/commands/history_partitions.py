"""manage.py history_partitions [--ahead MONTHS]"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from scoring import partitions


class Command(BaseCommand):
    help = (
        "Make the score history's monthly partitions (PostgreSQL) for this month and the "
        "next months (default VITALS_HISTORY_PARTITIONS_AHEAD), moving rows out of the "
        "default partition where their month had none, then list the partitions."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--ahead", type=int, help="Months ahead of this one.")

    def handle(self, *args, ahead: int | None = None, **options) -> None:
        if not partitions.is_partitioned():
            self.stdout.write("The score history is one plain table here (not PostgreSQL).")
            return
        created = partitions.history_partitions_ensure(now=timezone.now(), ahead=ahead)
        self.stdout.write(f"Created: {', '.join(created) or 'none'}.")
        for part in partitions.history_partitions(counts=True):
            span = f"{part.start:%Y-%m}" if part.start else "default (no month's partition)"
            self.stdout.write(f"  {part.name:<32} {span:<32} {part.rows:>12,} rows")
