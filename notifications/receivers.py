"""What notifications hears from the apps below it (their signals, connected in
``NotificationsConfig.ready``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from accounts.models import Account, User
from notifications.models import Kind
from notifications.services import Draft, notify


def accounts_given_notify(
    *, to: User, by: User, count: int, account: Account | None, now: dt.datetime, **_: Any
) -> None:
    """Tell ``to`` that ``by`` handed them ``count`` accounts (``accounts_reassigned``):
    the account itself when it was one, their book otherwise."""
    if account is not None:
        title, url = f"{by} gave you {account.name}", account.get_absolute_url()
    else:
        title, url = f"{by} gave you {count:,} accounts", reverse("accounts:list")
    stamp = int(now.timestamp() * 1000)
    notify(
        drafts=[
            Draft(
                user_id=to.pk,
                kind=Kind.ACCOUNTS_GIVEN,
                title=title,
                url=url,
                key=f"accounts:to:{to.pk}:by:{by.pk}:{stamp}",
                account_id=account.pk if account is not None else None,
            )
        ],
        now=now,
    )
