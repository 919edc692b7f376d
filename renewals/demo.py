"""The demo's renewals: the outcome of each demo customer's last renewal in the past
twelve months (renewed, expanded, downgraded) and of each churn (with its reasons), all
through ``outcome_record``; ARR history that starts at each contract and holds those
outcomes, so the team page's retention reads them. The renewals coming up, and the few
passed still without an outcome, are the accounts' own dates (accounts.demo)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from accounts.models import Account, ArrChange
from accounts.services import accounts_bulk_upsert
from renewals.models import RenewalOutcome, RenewalReason
from renewals.services import months_after, outcome_record

LOSS = ["price", "budget_cut", "product_gaps", "poor_adoption", "champion_left",
        "support_experience", "competitor", "acquired"]  # fmt: skip
GROWTH = ["more_seats", "new_team", "upgrade", "value_proven"]


def _round(value: Decimal) -> Decimal:
    return Decimal(round(value / 500) * 500).quantize(Decimal("0.01"))


def demo_renewals_reset() -> None:
    RenewalOutcome.objects.filter(account__external_id__startswith=DEMO_EXTERNAL_ID_PREFIX).delete()


@demo_step(name="renewals", order=7, reset=demo_renewals_reset)
def demo_renewals_step(book: DemoBook) -> str | None:
    demo = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    if RenewalOutcome.objects.filter(account__in=demo).exists():
        return None  # seeded already: the outcomes moved the dates on
    rng = book.rng("renewals")
    today, now = book.today, book.now
    codes = set(RenewalReason.objects.filter(active=True).values_list("code", flat=True))
    loss = [code for code in LOSS if code in codes]
    growth = [code for code in GROWTH if code in codes]
    plans: list[tuple[Account, str, dict[str, Any]]] = []
    before: dict[str, dict[str, Any]] = {}
    for account in book.accounts:
        if account.churned_at is not None:
            # Churned at its renewal: a customer until the outcome says otherwise.
            before[account.external_id] = {"churned_at": None, "lifecycle_stage": "renewing"}
            reasons = rng.sample(loss, rng.randint(1, 3))
            plans.append(
                (account, "churned", {"reasons": reasons, "churned_at": account.churned_at})
            )
            continue
        if account.renewal_date is None or account.contract_start is None:
            continue
        last = months_after(account.renewal_date, -12)
        if not (today - dt.timedelta(days=365) <= last < today and last > account.contract_start):
            continue
        arr, roll = Decimal(account.arr), rng.random()
        if roll < 0.2:
            kind, earlier = "expanded", _round(arr / Decimal(1 + rng.uniform(0.1, 0.4)))
            reasons = rng.sample(growth, rng.randint(1, 2))
        elif roll < 0.35:
            kind, earlier = "downgraded", _round(arr * Decimal(1 + rng.uniform(0.1, 0.3)))
            reasons = rng.sample(loss, rng.randint(1, 2))
        else:
            kind, earlier = "renewed", arr
            reasons = ["value_proven"] if rng.random() < 0.3 and "value_proven" in codes else []
        if earlier == arr and kind != "renewed":
            kind, reasons = "renewed", []
        if kind != "renewed":
            before[account.external_id] = {"arr": earlier}
        fields: dict[str, Any] = {
            "renewal_date": last,
            "next_renewal": account.renewal_date,
            "reasons": reasons,
        }
        if kind != "renewed":
            fields["arr_after"] = arr
        plans.append((account, kind, fields))
    # The ARR and state before the outcomes, then history from each contract's start
    # (the demo's accounts were all made today: their history would start today).
    accounts_bulk_upsert(
        rows=[{**values, "external_id": ext} for ext, values in before.items()],
        create=False,
        arr_source=ArrChange.Source.DEMO,
    )
    ArrChange.objects.filter(account__in=demo).delete()
    ArrChange.objects.bulk_create(
        ArrChange(
            account_id=pk,
            effective_date=start or today,
            arr_before=Decimal(0),
            arr_after=arr,
            source=ArrChange.Source.DEMO,
            recorded_at=now,
        )
        for pk, arr, start in demo.filter(arr__gt=0, contract_start__isnull=False)
        .values_list("pk", "arr", "contract_start")
        .iterator()
    )
    counts: dict[str, int] = {}
    for account, kind, fields in plans:
        outcome_record(account=account, kind=kind, now=now, **fields)
        counts[kind] = counts.get(kind, 0) + 1
    passed = demo.filter(churned_at__isnull=True, renewal_date__lt=today).count()
    coming = demo.filter(
        churned_at__isnull=True,
        renewal_date__gte=today,
        renewal_date__lte=today + dt.timedelta(days=120),
    ).count()
    made = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    return (
        f"renewal outcomes of the last 12 months: {made or 'none'}; {coming} renewals in the "
        f"next 120 days, {passed} passed without an outcome"
    )
