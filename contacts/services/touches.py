"""Every write of touches: one logged (``touch_log``: the page, admin and the demo), many
at once, all or nothing (``touches_log``: the API), and one deleted (``touch_delete``).

A touch is also two signals, of the built-in metrics ``days_since_touch`` (days since the
last signal) and ``touches_30d`` (a count over 30 days), stored in the same transaction
with client ids ``touch:<id>:<metric key>`` and source "vitals": the recompute, backtests
and what-ifs roll them up as any metric's, with no special case, and a deleted touch takes
its signals with it. The account's ``last_touch_at`` is kept here too, for the pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery

from accounts.models import Account, User
from config.errors import DomainError
from contacts.models import Contact, Touch
from scoring.models import Metric, Signal
from scoring.services import metric_save

# How far ahead of now a touch's time may be (clocks differ a little).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
NOTE_MAX = 10_000
TOUCH_SIGNAL_SOURCE = "vitals"
# The built-in metrics a touch is a signal of: key → the fields they are created with
# (then left as the admins define them; contacts/migrations/0005 creates them too).
TOUCH_METRICS: dict[str, dict] = {
    "days_since_touch": {
        "name": "Days since the last touch",
        "unit": "touches",
        "rollup": Metric.Rollup.DAYS_SINCE,
        "window_days": 30,
        "description": "Built in: a call, email, meeting or QBR logged on the account.",
    },
    "touches_30d": {
        "name": "Touches in 30 days",
        "unit": "touches",
        "rollup": Metric.Rollup.COUNT,
        "window_days": 30,
        "description": "Built in: the calls, emails, meetings and QBRs logged on the account.",
    },
}


class TouchInvalid(DomainError):
    """The touch cannot be logged; ``fields`` says where and why."""


def touch_metrics() -> list[Metric]:
    """The built-in touch metrics (created when missing, e.g. in a test database)."""
    found = {m.key: m for m in Metric.objects.filter(key__in=TOUCH_METRICS)}
    for key, fields in TOUCH_METRICS.items():
        if key not in found:
            found[key] = metric_save(fields={**fields, "key": key})
    return [found[key] for key in TOUCH_METRICS]


def touch_signal_ids(touch_id: int) -> list[str]:
    return [f"touch:{touch_id}:{key}" for key in TOUCH_METRICS]


def _contacts(
    account: Account, ids: Sequence[int], emails: Sequence[str]
) -> tuple[list[Contact], list[str]]:
    """The account's contacts by id and by email, and what is wrong with the others."""
    problems: list[str] = []
    found: dict[int, Contact] = {}
    if ids:
        by_id = {c.pk: c for c in Contact.objects.filter(pk__in=ids)}
        for pk in ids:
            contact = by_id.get(pk)
            if contact is None or contact.account_id != account.pk:
                problems.append(f"Contact #{pk} is not a contact of {account.name}.")
            else:
                found[contact.pk] = contact
    # Contacts' emails are stored in lower case (contact_checked).
    wanted = [str(e).strip().lower() for e in emails]
    if wanted:
        mine = {
            c.email.lower(): c for c in Contact.objects.filter(account=account, email__in=wanted)
        }
        for email in wanted:
            contact = mine.get(email)
            if contact is None:
                problems.append(f"{email!r} is not a contact of {account.name}.")
            else:
                found[contact.pk] = contact
    return list(found.values()), problems


def touch_problems(
    *,
    account: Account,
    kind: str,
    at: dt.datetime | None,
    note: str,
    now: dt.datetime,
    contact_ids: Sequence[int] = (),
    contact_emails: Sequence[str] = (),
) -> tuple[list[Contact], dict[str, list[str]]]:
    """The contacts of the touch, and what is wrong with it, per field."""
    errors: dict[str, list[str]] = {}
    if kind not in Touch.Kind.values:
        choices = ", ".join(Touch.Kind.values)
        errors["kind"] = [f"{kind!r} is not a kind of touch (one of: {choices})."]
    if at is None:
        errors["at"] = ["Give when it happened."]
    elif at.tzinfo is None:
        errors["at"] = ["Give the time with its time zone."]
    elif at > now + FUTURE_TOLERANCE:
        errors["at"] = [f"{at:%Y-%m-%d %H:%M} is in the future: log a touch once it happened."]
    if len(note) > NOTE_MAX:
        errors["note"] = [f"At most {NOTE_MAX:,} characters (this has {len(note):,})."]
    contacts, problems = _contacts(account, contact_ids, contact_emails)
    if problems:
        errors["contacts"] = problems
    return contacts, errors


@transaction.atomic
def touch_log(
    *,
    account: Account,
    kind: str,
    at: dt.datetime | None,
    by: User | None,
    now: dt.datetime,
    note: str = "",
    contact_ids: Sequence[int] = (),
    contact_emails: Sequence[str] = (),
) -> Touch:
    """Log a touch on ``account`` that happened ``at`` (not after ``now``, give or take
    ``FUTURE_TOLERANCE``) with the account's contacts named by id or email. Steps: check
    everything (``TouchInvalid`` names each bad field; nothing is written), store the
    touch and its contacts, its two signals, and move the account's ``last_touch_at``
    forward when this touch is its latest."""
    note = (note or "").strip()
    contacts, errors = touch_problems(
        account=account,
        kind=kind,
        at=at,
        note=note,
        now=now,
        contact_ids=contact_ids,
        contact_emails=contact_emails,
    )
    if errors:
        summary = "; ".join(f"{field}: {' '.join(m)}" for field, m in errors.items())
        raise TouchInvalid("The touch cannot be logged: " + summary, fields=errors)
    assert at is not None
    touch = Touch.objects.create(
        account=account, kind=kind, at=at, note=note, by=by, created_at=now
    )
    if contacts:
        touch.contacts.set(contacts)
    Signal.objects.bulk_create(
        [
            Signal(
                account=account,
                metric=metric,
                value=1.0,
                timestamp=at,
                source=TOUCH_SIGNAL_SOURCE,
                client_id=client_id,
                created_at=now,
            )
            for metric, client_id in zip(touch_metrics(), touch_signal_ids(touch.pk), strict=True)
        ],
        ignore_conflicts=True,
    )
    # A conditional update: two touches logged at once both move it only forward.
    Account.objects.filter(pk=account.pk).filter(
        Q(last_touch_at__isnull=True) | Q(last_touch_at__lt=at)
    ).update(last_touch_at=at)
    return touch


@transaction.atomic
def touches_log(
    *, account: Account, rows: Sequence[Mapping[str, Any]], by: User | None, now: dt.datetime
) -> list[Touch]:
    """Log each of ``rows`` (kind, at, note, contact_emails) on ``account``, in order.
    All or nothing: ``TouchInvalid`` with ``fields`` ``{row index: {field: [message]}}``
    when any row is wrong."""
    errors: dict[str, dict[str, list[str]]] = {}
    for i, row in enumerate(rows):
        _, row_errors = touch_problems(
            account=account,
            kind=row["kind"],
            at=row.get("at"),
            note=(row.get("note") or "").strip(),
            now=now,
            contact_emails=row.get("contact_emails", ()),
        )
        if row_errors:
            errors[str(i)] = row_errors
    if errors:
        raise TouchInvalid(
            f"{len(errors)} of {len(rows)} touches cannot be logged; none was.", fields=errors
        )
    return [
        touch_log(
            account=account,
            kind=row["kind"],
            at=row.get("at"),
            note=row.get("note") or "",
            contact_emails=row.get("contact_emails", ()),
            by=by,
            now=now,
        )
        for row in rows
    ]


@transaction.atomic
def touch_delete(*, touch: Touch) -> None:
    """Delete ``touch`` and its signals; the account's ``last_touch_at`` becomes its
    latest other touch's (or none)."""
    Signal.objects.filter(client_id__in=touch_signal_ids(touch.pk)).delete()
    account_id = touch.account_id
    touch.delete()
    latest = Touch.objects.filter(account=OuterRef("pk")).order_by("-at", "-id").values("at")[:1]
    Account.objects.filter(pk=account_id).update(last_touch_at=Subquery(latest))
