"""Handing accounts to another owner in bulk: one ``UPDATE`` for the whole selection.

The book's figures (``scoring.figures``: accounts and ARR per owner) follow by
themselves: the database triggers that keep them see this ``UPDATE`` as they see the
upsert's, in its transaction (a statement-level trigger on PostgreSQL, one per row on
SQLite), so the home and team pages agree with the rows as soon as it commits.

Who may receive accounts is ``accounts.selectors.owners_assignable_by``; the rule an
owner must meet is the upsert's (``accounts.services.validation``): an active user.
Open tasks stay with whoever they are assigned to.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import Account, User
from accounts.selectors import accounts_visible_to, owners_assignable_by
from accounts.services.validation import OWNER_INACTIVE
from accounts.signals import accounts_reassigned
from config.errors import DomainError


class ReassignRefused(DomainError):
    """A reassignment that is not carried out; nothing was changed."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, fields={field: [message]})
        self.field = field


class SelectionChanged(DomainError):
    """The accounts a bulk action would change are no longer as many as were confirmed
    (someone edited them, or the filter matches others now): nothing was changed."""

    status_code = 409
    code = "selection_changed"

    def __init__(self, *, expected: int, found: int) -> None:
        message = (
            f"The selection changed since it was confirmed: it has {found:,} account"
            f"{'' if found == 1 else 's'} now, not {expected:,}. Nothing was changed; "
            "check it and confirm again."
        )
        super().__init__(message)
        self.expected = expected
        self.found = found


def reassign_target_check(*, to: User, by: User) -> None:
    """Refuse ``to`` as the new owner unless ``by`` may hand accounts to them."""
    if not to.is_active:
        raise ReassignRefused(OWNER_INACTIVE.format(username=to.username), field="owner")
    if not by.is_admin and not by.is_manager:
        raise ReassignRefused(
            "A CSM cannot hand accounts over; ask your manager to reassign them.",
            field="owner",
        )
    if not owners_assignable_by(user=by).filter(pk=to.pk).exists():
        raise ReassignRefused(
            f"{to} is not on a team you manage: you can give accounts to your teams' "
            "members and yourself.",
            field="owner",
        )


@transaction.atomic
def accounts_reassign(
    *,
    accounts: QuerySet[Account],
    to: User,
    by: User,
    now: dt.datetime,
    expected: int | None = None,
) -> int:
    """Make ``to`` the owner of ``accounts`` (within ``by``'s scope); returns how many.

    Steps: check that ``by`` may give accounts to ``to``; one ``UPDATE`` of the accounts
    in ``by``'s scope (the scope applied here again, whatever the caller built); with
    ``expected`` (the count ``by`` confirmed), refuse and roll back when the ``UPDATE``
    touched another number of accounts, so a confirmation holds for what it showed;
    then ``accounts_reassigned`` tells the apps above (the new owner is notified).
    """
    reassign_target_check(to=to, by=by)
    selection = accounts_visible_to(user=by, queryset=accounts)
    first_two = list(selection.order_by().values_list("pk", flat=True)[:2])
    changed = selection.update(owner=to, updated_at=now)
    if expected is not None and changed != expected:
        raise SelectionChanged(expected=expected, found=changed)
    if changed and to != by:
        one = Account.objects.get(pk=first_two[0]) if changed == 1 == len(first_two) else None
        accounts_reassigned.send(sender=Account, to=to, by=by, count=changed, account=one, now=now)
    return changed
