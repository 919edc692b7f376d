from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.demo import DEMO_CSMS, DEMO_PASSWORD, DEMO_TEAM, demo_seed


class Command(BaseCommand):
    help = (
        "Create or refresh a realistic demo book: the people (admin, manager, csm1 … csm4, "
        f"all with one password), the team '{DEMO_TEAM}' and accounts across segments, then "
        "every demo step the other apps add. Running it again updates the demo data in place; "
        "--reset deletes the demo accounts first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts", type=int, default=200, help="number of demo accounts (default 200)"
        )
        parser.add_argument(
            "--days", type=int, default=90, help="days of signal history (default 90)"
        )
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"password of every demo login (default {DEMO_PASSWORD})",
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="random seed; the same seed gives the same data"
        )
        parser.add_argument(
            "--reset", action="store_true", help="delete the demo accounts (and their data) first"
        )

    def handle(
        self,
        *args,
        accounts: int,
        days: int,
        password: str,
        seed: int,
        reset: bool,
        **options,
    ) -> None:
        if accounts < 0:
            raise CommandError("--accounts cannot be negative.")
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if not password:
            raise CommandError("--password cannot be empty.")

        started = time.monotonic()
        book, summaries = demo_seed(
            accounts=accounts,
            days=days,
            password=password,
            seed=seed,
            today=timezone.localdate(),
            reset=reset,
            on_step=lambda name: self.stderr.write(f"» {name}"),
        )
        elapsed = time.monotonic() - started

        unowned = sum(1 for account in book.accounts if account.owner_id is None)
        churned = sum(1 for account in book.accounts if account.churned_at is not None)
        self.stdout.write(
            f"Demo accounts: {len(book.accounts)} ({book.created} created, {book.updated} "
            f"updated; {churned} churned, {unowned} without an owner); seed {seed}."
        )
        for summary in summaries:
            self.stdout.write(summary)
        self.stdout.write(f"Done in {elapsed:.1f} s.")
        csms = f"{DEMO_CSMS[0]} … {DEMO_CSMS[-1]}"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nLog in with the password '{password}' as:\n"
                f"  admin        superuser, CS ops (Django admin at /admin/)\n"
                f"  manager      CS manager of the team '{DEMO_TEAM}'\n"
                f"  {csms:<12} CSMs on that team, each with a book of accounts"
            )
        )
