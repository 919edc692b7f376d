"""Retention figures for a period [start, end), read set-based from the ARR history
(``accounts.ArrChange``) and the renewal outcomes. The definitions (docs/retention.md):

- the **cohort**: the accounts in scope that were customers when the period began (not
  churned before ``start``) with an ARR above 0 at its start. An account's ARR on a day is
  that of its latest ARR change effective before the day, so an account that came in
  during the period has none at the start and is left out;
- **start ARR**: the cohort's ARR at the start;
- **churned ARR**: the start ARR of the cohort's accounts that churned in the period;
- **downgraded / expanded ARR**: for the others, the fall or rise from their ARR at the
  start to their ARR at the end (the latest change effective before ``end``);
- **GRR** = (start − churned − downgraded) / start, at most 100 % by construction;
  **NRR** = (start − churned − downgraded + expanded) / start;
- **lost by reason**: the churned and downgraded ARR of the period's outcomes (ARR before
  minus new ARR) on the cohort's accounts, shared equally among an outcome's reasons.

Grouped by the accounts' owner, the owner's team (an account counts in each team of its
owner) or segment, as they are now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from accounts.models import Account, ArrChange, User
from accounts.selectors import accounts_visible_to
from renewals.models import RenewalOutcome

GROUPINGS = ("team", "owner", "segment")
MONEY = DecimalField(max_digits=16, decimal_places=2)
ZERO = Value(Decimal(0), output_field=MONEY)
CENT = Decimal("0.01")


@dataclass
class RetentionRow:
    """The figures of one group (or of the whole scope: ``key`` None)."""

    key: str | None
    label: str
    accounts: int = 0
    start_arr: Decimal = Decimal(0)
    churned_arr: Decimal = Decimal(0)
    downgraded_arr: Decimal = Decimal(0)
    expanded_arr: Decimal = Decimal(0)

    @property
    def end_arr(self) -> Decimal:
        return self.start_arr - self.churned_arr - self.downgraded_arr + self.expanded_arr

    @property
    def grr(self) -> Decimal | None:
        """Gross revenue retention, a fraction (0.912 = 91.2 %); None without a start ARR."""
        if not self.start_arr:
            return None
        kept = (self.start_arr - self.churned_arr - self.downgraded_arr) / self.start_arr
        return min(kept, Decimal(1)).quantize(Decimal("0.0001"))

    @property
    def nrr(self) -> Decimal | None:
        if not self.start_arr:
            return None
        return (self.end_arr / self.start_arr).quantize(Decimal("0.0001"))


@dataclass
class RetentionFigures:
    start: dt.date
    end: dt.date
    by: str
    total: RetentionRow
    rows: list[RetentionRow] = field(default_factory=list)
    # (reason code, name, churned or downgraded ARR) biggest first; code "" for none given.
    lost_by_reason: list[tuple[str, str, Decimal]] = field(default_factory=list)

    @property
    def last_day(self) -> dt.date:
        """The period's last day (``end`` is the day after it)."""
        return self.end - dt.timedelta(days=1)


def _arr_on(day: dt.date) -> Subquery:
    """An account's ARR on ``day``: its latest change effective before the day."""
    return Subquery(
        ArrChange.objects.filter(account=OuterRef("pk"), effective_date__lt=day)
        .order_by("-effective_date", "-id")
        .values("arr_after")[:1],
        output_field=MONEY,
    )


def retention_cohort(
    *, start: dt.date, end: dt.date, accounts: QuerySet[Account]
) -> QuerySet[Account]:
    """``accounts`` that were customers at ``start`` with an ARR then, annotated with
    ``start_arr``, ``end_arr`` and whether they churned in the period (``gone``)."""
    return (
        accounts.filter(Q(churned_at__isnull=True) | Q(churned_at__gte=start))
        .annotate(start_arr=_arr_on(start), end_arr=_arr_on(end))
        .filter(start_arr__gt=0)
        .annotate(
            gone=Case(When(churned_at__lt=end, then=Value(1)), default=Value(0)),
        )
    )


def _sums() -> dict:
    return {
        "n": Count("pk"),
        "start": Sum("start_arr", output_field=MONEY),
        "churned": Sum(Case(When(gone=1, then=F("start_arr")), default=ZERO, output_field=MONEY)),
        "downgraded": Sum(
            Case(
                When(gone=0, end_arr__lt=F("start_arr"), then=F("start_arr") - F("end_arr")),
                default=ZERO,
                output_field=MONEY,
            )
        ),
        "expanded": Sum(
            Case(
                When(gone=0, end_arr__gt=F("start_arr"), then=F("end_arr") - F("start_arr")),
                default=ZERO,
                output_field=MONEY,
            )
        ),
    }


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _row(key: str | None, label: str, sums: dict) -> RetentionRow:
    return RetentionRow(
        key=key,
        label=label,
        accounts=sums["n"] or 0,
        start_arr=_money(sums["start"]),
        churned_arr=_money(sums["churned"]),
        downgraded_arr=_money(sums["downgraded"]),
        expanded_arr=_money(sums["expanded"]),
    )


def retention_figures(
    *,
    start: dt.date,
    end: dt.date,
    by: str = "owner",
    user: User | None = None,
    accounts: QuerySet[Account] | None = None,
) -> RetentionFigures:
    """The period's figures over ``accounts`` (default: those ``user`` may see, or all),
    in total and per ``by`` (team, owner or segment). Three queries (four by team)."""
    if by not in GROUPINGS:
        raise ValueError(f"by is one of {', '.join(GROUPINGS)}, not {by!r}")
    if end <= start:
        raise ValueError("The period ends after it starts.")
    if accounts is None:
        accounts = accounts_visible_to(user=user) if user is not None else Account.objects.all()
    cohort = retention_cohort(start=start, end=end, accounts=accounts.order_by())
    if by == "team":
        keys = ["owner__teams__id", "owner__teams__name"]
    elif by == "owner":
        keys = ["owner_id", "owner__username", "owner__first_name", "owner__last_name"]
    else:
        keys = ["segment"]
    rows = []
    segments = dict(Account.Segment.choices)
    for group in cohort.values(*keys).annotate(**_sums()).order_by(*keys):
        if by == "team":
            key, label = group["owner__teams__id"], group["owner__teams__name"] or "No team"
        elif by == "owner":
            key = group["owner_id"]
            name = f"{group['owner__first_name'] or ''} {group['owner__last_name'] or ''}".strip()
            label = name or group["owner__username"] or "No owner"
        else:
            key, label = group["segment"], segments.get(group["segment"], group["segment"])
        rows.append(_row(None if key is None else str(key), label, group))
    rows.sort(key=lambda row: (row.key is None, row.label.lower()))
    if by == "team":  # an account counts in each team of its owner: the total is its own
        total = _row(None, "All", cohort.aggregate(**_sums()))
    else:  # each account is in one group: the total is their sum
        total = RetentionRow(key=None, label="All")
        for row in rows:
            total.accounts += row.accounts
            total.start_arr += row.start_arr
            total.churned_arr += row.churned_arr
            total.downgraded_arr += row.downgraded_arr
            total.expanded_arr += row.expanded_arr
    return RetentionFigures(
        start=start,
        end=end,
        by=by,
        total=total,
        rows=rows,
        lost_by_reason=_lost_by_reason(start=start, end=end, cohort=cohort),
    )


def _lost_by_reason(
    *, start: dt.date, end: dt.date, cohort: QuerySet[Account]
) -> list[tuple[str, str, Decimal]]:
    """The ARR the period's churns and downgrades lost, by reason: each outcome's loss
    shared equally among its reasons; those given none under code ""."""
    losses = RenewalOutcome.objects.filter(
        renewal_date__gte=start,
        renewal_date__lt=end,
        kind__in=[RenewalOutcome.Kind.CHURNED, RenewalOutcome.Kind.DOWNGRADED],
        account__in=cohort.values("pk"),
    )
    through = RenewalOutcome.reasons.through
    shared = Subquery(
        RenewalOutcome.objects.filter(pk=OuterRef("renewaloutcome_id"))
        .annotate(given=Count("reasons"))
        .values("given"),
        output_field=MONEY,
    )
    found: list[tuple[str, str, Decimal]] = []
    for row in (
        through.objects.filter(renewaloutcome__in=losses)
        .values("renewalreason__code", "renewalreason__name")
        .annotate(
            lost=Sum(
                ExpressionWrapper(
                    (F("renewaloutcome__arr_before") - F("renewaloutcome__arr_after")) / shared,
                    output_field=MONEY,
                )
            )
        )
        .order_by()
    ):
        found.append((row["renewalreason__code"], row["renewalreason__name"], _money(row["lost"])))
    unexplained = losses.filter(reasons__isnull=True).aggregate(
        lost=Sum(F("arr_before") - F("arr_after"), output_field=MONEY)
    )["lost"]
    if unexplained:
        found.append(("", "No reason given", _money(unexplained)))
    found.sort(key=lambda item: (-item[2], item[1]))
    return found
