"""Every write of renewal outcomes: ``outcome_record``, for the renewals page, the
account's API, admin and the demo alike. It checks the outcome as a whole and writes
nothing when any of it is wrong (``OutcomeInvalid`` names each bad field); otherwise, in
one transaction, it stores the outcome and applies it to the account through the
accounts write path (``accounts_bulk_upsert``): a renewal moves the ARR and the renewal
date on, a churn sets the churn date and the lifecycle stage."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from accounts.models import Account, ArrChange, User
from accounts.services import accounts_bulk_upsert
from config.errors import DomainError
from renewals.models import RenewalOutcome, RenewalReason

MAX_REASONS = 3
# The contract term a renewal moves the renewal date on by, unless a next date is given.
TERM_MONTHS = 12

Kind = RenewalOutcome.Kind

# Run in the outcome's transaction after a churn is applied, with (account, now): the
# apps above this one close the account's open work by their own churn rule there
# (playbooks registers ``work_close_for_churned`` in its AppConfig.ready), so renewals
# never imports them and no door can record a churn that leaves the work open.
CHURN_FOLLOWERS: list[Callable[[Account, dt.datetime], Any]] = []


class OutcomeInvalid(DomainError):
    """The outcome cannot be recorded; ``fields`` says where and why. Nothing was."""


def months_after(day: dt.date, months: int) -> dt.date:
    """``day`` ``months`` later, on the month's last day when it has no such day
    (31 Jan + 1 month = 28 or 29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount.")
    return amount.quantize(Decimal("0.01"))


def _reasons(given: Sequence[Any], errors: dict[str, list[str]]) -> list[RenewalReason]:
    wanted = [r for r in given if r not in (None, "")]
    if len(wanted) > MAX_REASONS:
        errors["reasons"] = [f"At most {MAX_REASONS} reasons ({len(wanted)} given)."]
        return []
    objects = [r for r in wanted if isinstance(r, RenewalReason)]
    codes = [str(r) for r in wanted if not isinstance(r, RenewalReason)]
    found = {r.code: r for r in RenewalReason.objects.filter(code__in=codes)}
    problems = [f"{code!r} is not a renewal reason." for code in codes if code not in found]
    reasons = objects + [found[code] for code in codes if code in found]
    problems += [f"{r.name} is no longer offered." for r in reasons if not r.active]
    if len({r.pk for r in reasons}) < len(reasons):
        problems.append("A reason is given twice.")
    if problems:
        errors["reasons"] = problems
    return reasons


def outcome_checked(
    *,
    account: Account,
    kind: str,
    renewal_date: dt.date | None = None,
    arr_after: Any = None,
    reasons: Sequence[Any] = (),
    note: str = "",
    next_renewal: dt.date | None = None,
    churned_at: dt.date | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The outcome ``outcome_record`` would store for ``account`` (as it is now), and
    what is wrong with it, per field: the form and admin show the same errors."""
    errors: dict[str, list[str]] = {}
    if account.churned_at is not None:
        errors["account"] = [f"{account.name} churned on {account.churned_at:%d %b %Y}."]
    if kind not in Kind.values:
        errors["kind"] = [f"{kind!r} is not an outcome (one of: {', '.join(Kind.values)})."]
    renewal_date = renewal_date or account.renewal_date
    if renewal_date is None:
        errors["renewal_date"] = [f"{account.name} has no renewal date: give the one this is for."]
    elif RenewalOutcome.objects.filter(account=account, renewal_date=renewal_date).exists():
        errors["renewal_date"] = [
            f"{account.name} already has an outcome for its renewal of {renewal_date:%d %b %Y}."
        ]
    before = Decimal(account.arr).quantize(Decimal("0.01"))
    after: Decimal | None
    try:
        after = _money(arr_after)
    except ValueError as exc:
        errors["arr_after"], after = [str(exc)], None
    if "arr_after" not in errors:
        if after is not None and after < 0:
            errors["arr_after"] = ["The new ARR cannot be negative."]
        elif kind == Kind.RENEWED:
            if after is not None and after != before:
                errors["arr_after"] = [
                    f"A renewal keeps the ARR ({before:,}): record a change as expanded or "
                    "downgraded."
                ]
            after = before
        elif kind == Kind.CHURNED:
            if after not in (None, Decimal(0)):
                errors["arr_after"] = ["A churned customer's new ARR is 0."]
            after = Decimal(0)
        elif kind in (Kind.EXPANDED, Kind.DOWNGRADED):
            if after is None:
                errors["arr_after"] = ["Give the new ARR."]
            elif kind == Kind.EXPANDED and after <= before:
                errors["arr_after"] = [f"An expansion raises the ARR above {before:,}."]
            elif kind == Kind.DOWNGRADED and not Decimal(0) < after < before:
                errors["arr_after"] = [
                    f"A downgrade lowers the ARR below {before:,}, above 0 (0 is a churn)."
                ]
    chosen = _reasons(list(reasons), errors)
    if kind == Kind.CHURNED:
        churned_at = churned_at or renewal_date
        if next_renewal is not None:
            errors["next_renewal"] = ["A churned customer has no next renewal."]
    else:
        if churned_at is not None:
            errors["churned_at"] = ["Only a churn has a churn date."]
        if renewal_date is not None:
            if next_renewal is None:
                next_renewal = months_after(renewal_date, TERM_MONTHS)
            elif next_renewal <= renewal_date:
                errors["next_renewal"] = [
                    f"The next renewal comes after this one ({renewal_date:%d %b %Y})."
                ]
    note = (note or "").strip()
    if len(note) > 5000:
        errors["note"] = [f"At most 5,000 characters (this has {len(note):,})."]
    clean = {
        "kind": kind,
        "renewal_date": renewal_date,
        "arr_before": before,
        "arr_after": after,
        "reasons": chosen,
        "note": note,
        "next_renewal": next_renewal if kind != Kind.CHURNED else None,
        "churned_at": churned_at if kind == Kind.CHURNED else None,
    }
    return clean, errors


def _summary(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


@transaction.atomic
def outcome_record(
    *,
    account: Account,
    kind: str,
    now: dt.datetime,
    recorded_by: User | None = None,
    renewal_date: dt.date | None = None,
    arr_after: Any = None,
    reasons: Sequence[Any] = (),
    note: str = "",
    next_renewal: dt.date | None = None,
    churned_at: dt.date | None = None,
) -> RenewalOutcome:
    """Record what happened at ``account``'s renewal of ``renewal_date`` (default: its
    renewal date now) and apply it. Steps, in one transaction:

    1. lock the account and check the outcome against it as it is (``outcome_checked``):
       a churned account, a second outcome for the date, an ARR that does not go the
       kind's way, more than three reasons or an inactive one are refused;
    2. store the outcome and its reasons;
    3. apply it through ``accounts_bulk_upsert`` (its ARR history from "outcome",
       effective on the renewal date): renewed, expanded or downgraded — the new ARR and
       the next renewal date (``next_renewal``, default a term of 12 months on);
       churned — the churn date (``churned_at``, default the renewal date) and the
       lifecycle stage churned, the ARR left as it was paid;
    4. on a churn, ``CHURN_FOLLOWERS`` close the account's open work.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    clean, errors = outcome_checked(
        account=account,
        kind=kind,
        renewal_date=renewal_date,
        arr_after=arr_after,
        reasons=reasons,
        note=note,
        next_renewal=next_renewal,
        churned_at=churned_at,
    )
    if errors:
        raise OutcomeInvalid("The outcome cannot be recorded: " + _summary(errors), fields=errors)
    chosen = clean.pop("reasons")
    outcome = RenewalOutcome.objects.create(
        account=account, recorded_by=recorded_by, recorded_at=now, **clean
    )
    outcome.reasons.set(chosen)
    if kind == Kind.CHURNED:
        changes: dict[str, Any] = {
            "churned_at": clean["churned_at"],
            "lifecycle_stage": Account.Stage.CHURNED,
        }
    else:
        changes = {"arr": clean["arr_after"], "renewal_date": clean["next_renewal"]}
    accounts_bulk_upsert(
        rows=[{**changes, "external_id": account.external_id}],
        create=False,
        arr_source=ArrChange.Source.OUTCOME,
        arr_effective=clean["renewal_date"],
    )
    if kind == Kind.CHURNED:
        account.refresh_from_db()
        for follow in CHURN_FOLLOWERS:
            follow(account, now)
    return outcome
