"""Every write of contacts: one contact saved (``contact_save``: the page, admin and the
API's single write), many upserted by email at once (``contacts_upsert``: the API's
list), and a contact marked as having left. Each checks its input as a whole and writes
nothing when any of it is wrong: ``ContactInvalid`` names each bad field (and, for a
list, each bad row)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Account
from config.errors import DomainError
from contacts.models import Contact, ContactRole

CONTACT_FIELDS = ("name", "email", "title", "role", "is_primary")


class ContactInvalid(DomainError):
    """The contact (or a row of them) cannot be saved; ``fields`` says where and why."""


def _role(value: Any) -> ContactRole | None:
    if value in (None, ""):
        return None
    if isinstance(value, ContactRole):
        return value
    role = ContactRole.objects.filter(key=str(value)).first()
    if role is None:
        keys = ", ".join(ContactRole.objects.values_list("key", flat=True))
        raise ValidationError(f"{value!r} is not a contact role (one of: {keys}).")
    return role


def contact_checked(fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """``fields`` cleaned (name and email stripped, the email lower case, the role by its
    key), and the errors per field."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    errors: dict[str, list[str]] = {name: ["Not a contact field."] for name in sorted(unknown)}
    clean: dict[str, Any] = {}
    name = str(fields.get("name") or "").strip()
    if not name:
        errors["name"] = ["Give the contact's name."]
    elif len(name) > 200:
        errors["name"] = [f"At most 200 characters (this has {len(name)})."]
    clean["name"] = name
    email = str(fields.get("email") or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [f"{email!r} is not an email address." if email else "Give an email."]
    clean["email"] = email
    title = str(fields.get("title") or "").strip()
    if len(title) > 200:
        errors["title"] = [f"At most 200 characters (this has {len(title)})."]
    clean["title"] = title
    try:
        clean["role"] = _role(fields.get("role"))
    except ValidationError as exc:
        errors["role"] = list(exc.messages)
    clean["is_primary"] = bool(fields.get("is_primary", False))
    return clean, errors


def _duplicate(account: Account, email: str, contact: Contact | None) -> bool:
    others = Contact.objects.filter(account=account, email__iexact=email)
    if contact is not None and contact.pk:
        others = others.exclude(pk=contact.pk)
    return others.exists()


def contact_problems(
    *, account: Account, fields: Mapping[str, Any], contact: Contact | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """What ``contact_save`` would store for these ``fields`` (over ``contact``'s own
    for a change), and what is wrong with them, per field: admin's form shows the same
    errors beside its fields."""
    if contact is not None:
        current = {
            "name": contact.name,
            "email": contact.email,
            "title": contact.title,
            "role": contact.role,
            "is_primary": contact.is_primary,
        }
        fields = {**current, **fields}
    clean, errors = contact_checked(fields)
    if "email" not in errors and _duplicate(account, clean["email"], contact):
        errors["email"] = [f"{account.name} already has a contact with {clean['email']}."]
    return clean, errors


@transaction.atomic
def contact_save(
    *,
    account: Account,
    fields: Mapping[str, Any],
    now: dt.datetime,
    contact: Contact | None = None,
) -> Contact:
    """Create a contact on ``account`` or change ``contact`` with ``fields`` (name,
    email, title, role by key or object, is_primary). A primary contact takes the
    account's primary place from any other."""
    clean, errors = contact_problems(account=account, fields=fields, contact=contact)
    if errors:
        raise ContactInvalid("The contact cannot be saved: " + _summary(errors), fields=errors)
    contact = contact or Contact(account=account, created_at=now)
    for name, value in clean.items():
        setattr(contact, name, value)
    contact.updated_at = now
    if contact.is_primary:
        others = Contact.objects.filter(account=account, is_primary=True)
        (others.exclude(pk=contact.pk) if contact.pk else others).update(is_primary=False)
    contact.save()
    return contact


def _summary(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


@transaction.atomic
def contacts_upsert(
    *, account: Account, rows: Sequence[Mapping[str, Any]], now: dt.datetime
) -> tuple[list[Contact], int, int]:
    """Create or update ``account``'s contacts from ``rows``, matched by email (in any
    letter case): (the contacts in the rows' order, created, updated). All or nothing:
    ``ContactInvalid`` with ``fields`` ``{row index: {field: [message]}}`` when any row
    is wrong, an email given twice, or more than one row primary."""
    checked = [contact_checked(row) for row in rows]
    errors: dict[str, dict[str, list[str]]] = {
        str(i): row_errors for i, (_, row_errors) in enumerate(checked) if row_errors
    }
    seen: dict[str, int] = {}
    for i, (clean, row_errors) in enumerate(checked):
        email = clean["email"]
        if "email" in row_errors:
            continue
        if email in seen:
            errors.setdefault(str(i), {})["email"] = [f"Given twice: also in row {seen[email]}."]
        seen.setdefault(email, i)
    primaries = [i for i, (clean, _) in enumerate(checked) if clean["is_primary"]]
    for i in primaries[1:]:
        errors.setdefault(str(i), {})["is_primary"] = [
            f"Only one contact is primary; row {primaries[0]} is already."
        ]
    if errors:
        raise ContactInvalid(
            f"{len(errors)} of {len(rows)} contacts cannot be saved; nothing was.",
            fields=errors,
        )
    existing = {c.email.lower(): c for c in Contact.objects.filter(account=account)}
    saved, created = [], 0
    if primaries:
        Contact.objects.filter(account=account, is_primary=True).update(is_primary=False)
    for clean, _ in checked:
        contact = existing.get(clean["email"])
        if contact is None:
            contact = Contact(account=account, created_at=now)
            created += 1
        for name, value in clean.items():
            setattr(contact, name, value)
        contact.updated_at = now
        contact.save()
        saved.append(contact)
    return saved, created, len(saved) - created


@transaction.atomic
def contact_mark_left(*, contact: Contact, on: dt.date, now: dt.datetime) -> Contact:
    """``contact`` left the customer on ``on``: kept, marked left, no longer primary."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.status == Contact.Status.LEFT:
        return contact
    contact.status = Contact.Status.LEFT
    contact.left_at = on
    contact.is_primary = False
    contact.updated_at = now
    contact.save(update_fields=["status", "left_at", "is_primary", "updated_at"])
    return contact


from contacts.services.touches import (  # noqa: E402
    TOUCH_METRICS,
    TOUCH_SIGNAL_SOURCE,
    TouchInvalid,
    touch_delete,
    touch_log,
    touch_metrics,
    touch_problems,
    touches_log,
)

__all__ = [
    "CONTACT_FIELDS",
    "TOUCH_METRICS",
    "TOUCH_SIGNAL_SOURCE",
    "ContactInvalid",
    "TouchInvalid",
    "contact_checked",
    "contact_mark_left",
    "contact_problems",
    "contact_save",
    "contacts_upsert",
    "touch_delete",
    "touch_log",
    "touch_metrics",
    "touch_problems",
    "touches_log",
]
