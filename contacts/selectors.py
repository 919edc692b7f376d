"""Reads of contacts: an account's, primary first, the people still there before those
who left."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from accounts.models import Account
from contacts.models import Contact


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
