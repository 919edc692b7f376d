"""Reads of renewals: the renewals coming up in a person's scope (keyset pages along
the renewal-date indexes), an account's outcomes, the reasons offered."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.filters import account_list_filter
from accounts.models import Account, User
from accounts.selectors import customers_q
from renewals.models import RenewalOutcome, RenewalReason

WINDOWS = (30, 60, 90, 120)
DEFAULT_WINDOW = 90
PAGE_SIZE = 50


@dataclass(frozen=True)
class Position:
    """Where a page of renewals ended: the renewal date and id of its last row."""

    renewal_date: dt.date
    pk: int

    def __str__(self) -> str:
        return f"{self.renewal_date.isoformat()}.{self.pk}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """``2026-12-01.123`` → Position; ValueError when it is not one."""
        day, _, pk = text.partition(".")
        return cls(dt.date.fromisoformat(day), int(pk))


def renewals_upcoming(
    *,
    user: User,
    today: dt.date,
    within: int = DEFAULT_WINDOW,
    owner: str | None = None,
    after: Position | None = None,
) -> QuerySet[Account]:
    """The customers in ``user``'s scope whose renewal date is at most ``within`` days
    away, soonest first — those whose date has passed with no outcome recorded first of
    all (an outcome moves the date on, so a passed date is one still to record).
    ``owner`` as the account list's owner filter takes it (an id among the people
    ``user`` may see, or "none"): a chosen owner's renewals are read along
    ``account_owner_renewal``, the whole book's along the renewal-date index. ``after``:
    the rows past a page's last one (keyset)."""
    data = {"owner": owner} if owner else {}
    found = account_list_filter(user=user, data=data, today=today).qs
    found = found.filter(customers_q(on=today), renewal_date__lte=today + dt.timedelta(days=within))
    if after is not None:
        found = found.filter(renewal_date__gte=after.renewal_date).filter(
            Q(renewal_date__gt=after.renewal_date) | Q(pk__gt=after.pk)
        )
    return found.order_by("renewal_date", "pk")


def account_outcomes(*, account: Account) -> QuerySet[RenewalOutcome]:
    """``account``'s outcomes, the latest renewal first, with their reasons."""
    return (
        RenewalOutcome.objects.filter(account=account)
        .select_related("recorded_by")
        .prefetch_related("reasons")
        .order_by("-renewal_date", "-id")
    )


def reasons_offered() -> QuerySet[RenewalReason]:
    return RenewalReason.objects.filter(active=True).order_by("order", "name")


def outcome_losses(start: dt.date, end: dt.date) -> set[int]:
    """The accounts with a churn or downgrade outcome due in (start, end]: a backtest's
    positives by outcome (``scoring.analysis.backtest.LABEL_SOURCES["outcomes"]``)."""
    return set(
        RenewalOutcome.objects.filter(
            kind__in=[RenewalOutcome.Kind.CHURNED, RenewalOutcome.Kind.DOWNGRADED],
            renewal_date__gt=start,
            renewal_date__lte=end,
        ).values_list("account_id", flat=True)
    )
