"""Reads of notifications: a person's list, a window at a time, and the bell's count."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Value

from accounts.models import User
from notifications.models import Notification

PAGE = 30
_KNOWN = "_unread_notifications"


def unread_count(*, user: User) -> int:
    """The bell's number: read from ``notification_unread``, unless this request has read
    it already with the navigation's task counts (``unread_arm``)."""
    if not user.is_authenticated:
        return 0
    known = user.__dict__.get(_KNOWN)
    if known is not None:
        return known
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def unread_arm(*, user: User, label: str = "unread") -> QuerySet:
    """The bell's count as a row ``(label, n)``, for a ``UNION ALL`` with other counts of
    the same shape, so the navigation reads its numbers in one statement; hand the ``n``
    back to ``unread_known``."""
    return (
        Notification.objects.filter(user=user, read_at__isnull=True)
        .annotate(section=Value(label))
        .values("section")
        .annotate(n=Count("pk"))
        .order_by()
    )


def unread_known(*, user: User, count: int | None) -> None:
    """Keep ``count`` on the user object for this request (None: forget it, after a
    change)."""
    if count is None:
        user.__dict__.pop(_KNOWN, None)
    else:
        user.__dict__[_KNOWN] = count


@dataclass
class NotificationPage:
    items: list[Notification]
    next: int | None  # the id the next page starts before, if there is one


def notifications_for(
    *, user: User, before: int | None = None, unread: bool = False, limit: int | None = None
) -> NotificationPage:
    """``user``'s notifications newest first (``unread``: only those), ``limit`` at a
    time, from before the notification ``before`` (a keyset on the id, which grows with
    time)."""
    qs = Notification.objects.filter(user=user).select_related("account")
    if unread:
        qs = qs.filter(read_at__isnull=True)
    if before is not None:
        qs = qs.filter(Q(id__lt=before))
    limit = limit or PAGE
    found = list(qs.order_by("-id")[: limit + 1])
    items = found[:limit]
    return NotificationPage(items=items, next=items[-1].pk if len(found) > limit else None)
