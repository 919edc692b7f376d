"""manage.py score_as_of ACCOUNT --as-of DATE [--model MODEL]"""

from __future__ import annotations

import argparse
import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from scoring.analysis.asof import account_score_as_of, as_of_moment, scoring_model_resolve
from scoring.errors import ScoringError


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Score one account as it stood at the start of a past date: only the signals "
        "before it, roll-up windows ending there, with the model version that was active "
        "then (or --model: a key's active version, key:version or an id). Nothing is stored."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("account", help="the account's external id")
        parser.add_argument("--as-of", dest="day", type=_date, required=True, help="YYYY-MM-DD")
        parser.add_argument("--model", help="score with this version instead")

    def handle(self, *args, account: str, day: dt.date, model: str | None, **options) -> None:
        found = Account.objects.filter(external_id=account).first()
        if found is None:
            raise CommandError(f"No account has the external id {account!r}.")
        try:
            version = scoring_model_resolve(ref=model) if model else None
            result = account_score_as_of(account=found, as_of=as_of_moment(day), model=version)
        except ScoringError as exc:
            raise CommandError(str(exc)) from None
        score = "no score (no data)" if result.score is None else f"{result.score:.1f}"
        band = result.band.name if result.band else "no band"
        self.stdout.write(
            f"{found} as of {day:%Y-%m-%d}, scored by {result.model}: {score}, {band}, "
            f"{result.completeness:.0%} of the weight with data."
        )
        for row in result.breakdown:
            raw = "no data" if row.raw is None else f"{row.raw:g} {row.unit}".strip()
            part = "—" if row.score is None else f"{row.score:.1f}"
            self.stdout.write(f"  {row.label:<32} {raw:>16}  → {part}")
