"""The demo's notifications and digests: the bell holds what the last couple of days
told each person (what came before reads as read, as it would after a few mornings),
the tasks fallen overdue and the accounts gone worse are told as the hourly jobs would,
and the manager watches the team and, with csm1, gets the daily digest (printed by the
console email backend of a development install)."""

from __future__ import annotations

import datetime as dt

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from notifications.models import Notification
from notifications.services import level_worse_notify, notification_settings_save
from playbooks.services import overdue_notify

UNREAD_DAYS = 2


@demo_step(name="notifications", order=30)
def demo_notifications_step(book: DemoBook) -> str:
    for name in ("manager", "csm1"):
        person = book.users.get(name)
        if person is not None:
            fields: dict[str, object] = {"digest": True, "digest_hour": 8}
            if person.is_manager:
                fields["scope"] = "team"
            notification_settings_save(user=person, fields=fields)
    # The demo's history is scored a few days apart: its last week's falls are news.
    level_worse_notify(now=book.now, horizon=dt.timedelta(days=7))
    overdue_notify(now=book.now)
    demo = Notification.objects.filter(account__external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    demo.filter(
        read_at__isnull=True, created_at__lt=book.now - dt.timedelta(days=UNREAD_DAYS)
    ).update(read_at=book.now - dt.timedelta(days=UNREAD_DAYS))
    unread = demo.filter(read_at__isnull=True).count()
    return f"{demo.count()} notifications, {unread} unread; digests for manager and csm1"
