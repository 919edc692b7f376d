"""Reads of contacts: an account's, primary first, the people still there before those
who left; and an account's touches, newest first."""

from __future__ import annotations

from django.db.models import Case, F, IntegerField, Prefetch, QuerySet, Subquery, Value, When

from accounts.models import Account
from contacts.models import Contact, Touch


def account_contacts(*, account: Account) -> QuerySet[Contact]:
    return (
        Contact.objects.filter(account=account)
        .select_related("role")
        .annotate(
            gone=Case(
                When(status=Contact.Status.LEFT, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("gone", "-is_primary", "name", "id")
    )


def account_touches(*, account: Account, limit: int | None = None) -> QuerySet[Touch]:
    """``account``'s touches, newest first (along the index on account and time), with
    who logged them and the contacts who took part (one query more, for them all)."""
    touches = (
        Touch.objects.filter(account=account)
        .select_related("by")
        .prefetch_related(
            Prefetch("contacts", queryset=Contact.objects.select_related("role").order_by("name"))
        )
        .order_by("-at", "-id")
    )
    return touches[:limit] if limit is not None else touches


def account_touches_named(*, account: Account, limit: int) -> list[Touch]:
    """``account``'s newest ``limit`` touches, each with ``people``: its contacts as
    pages name them ("Dana Reyes (Champion)"), in one query (a row per touch and contact,
    along the index on account and time) — the account page reads them twice."""
    newest = Touch.objects.filter(account=account).order_by("-at", "-id").values("pk")[:limit]
    rows = (
        Touch.objects.filter(pk__in=Subquery(newest))
        .select_related("by")
        .annotate(person=F("contacts__name"), person_role=F("contacts__role__name"))
        .order_by("-at", "-id", "person")
    )
    touches: dict[int, Touch] = {}
    people: dict[int, list[str]] = {}
    for row in rows:
        touches.setdefault(row.pk, row)
        named = people.setdefault(row.pk, [])
        if row.person:
            named.append(f"{row.person} ({row.person_role})" if row.person_role else row.person)
    for pk, touch in touches.items():
        touch.people = people[pk]  # type: ignore[attr-defined]
    return list(touches.values())
