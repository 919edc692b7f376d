"""The daily digest: one email per person who asked for it, in their morning.

``digests_send`` runs every quarter hour (a database schedule). It finds the people
whose digest hour has come in their own time zone and who have had no digest for their
day yet, writes each one's digest — their overdue and due-today tasks, what they were
told in the app since the day before, and for a manager their team's overdue work and
the team's accounts gone worse — and hands it to the outbound deliveries as an email
with a text and an HTML part. The delivery's key (``digest:<person>:<day>``) makes it
once a day however often the job runs, and the deliveries retry with back-off.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.template.loader import render_to_string

from accounts.models import Account, User
from accounts.selectors import team_member_ids
from notifications.models import Kind, Notification, NotificationSettings
from playbooks.models import Delivery, Task
from playbooks.selectors import overdue_counts_by_assignee, task_counts, tasks_due
from playbooks.services.outbound import delivery_enqueue, json_body

TASKS_SHOWN = 10
NOTIFICATIONS_SHOWN = 10


def digest_key(user_id: int, day: dt.date) -> str:
    return f"digest:{user_id}:{day:%Y-%m-%d}"


def local_now(prefs: NotificationSettings, now: dt.datetime) -> dt.datetime:
    try:
        zone = zoneinfo.ZoneInfo(prefs.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return now.astimezone(zone)


def digests_due(*, now: dt.datetime) -> list[tuple[User, NotificationSettings, dt.date]]:
    """Who is due a digest now: opted in, active, with an address, their hour come in
    their time zone, and none sent for their day yet. Two queries."""
    chosen = (
        NotificationSettings.objects.filter(digest=True, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
    )
    due = []
    for prefs in chosen:
        local = local_now(prefs, now)
        if local.hour >= prefs.digest_hour:
            due.append((prefs.user, prefs, local.date()))
    keys = {digest_key(user.pk, day): user.pk for user, _, day in due}
    sent = set(
        Delivery.objects.filter(idempotency_key__in=list(keys)).values_list(
            "idempotency_key", flat=True
        )
    )
    return [(user, prefs, day) for user, prefs, day in due if digest_key(user.pk, day) not in sent]


@dataclass
class TeamLine:
    person: User
    overdue: int


@dataclass
class Digest:
    """What one person's digest says."""

    user: User
    day: dt.date
    counts: dict[str, int]
    tasks: list[Task]
    notifications: list[Notification]
    unread: int
    team: list[TeamLine] = field(default_factory=list)
    team_worse: list[Notification] = field(default_factory=list)

    @property
    def due(self) -> int:
        return self.counts["overdue"] + self.counts["today"]

    @property
    def subject(self) -> str:
        parts = [f"{self.counts['overdue']} overdue", f"{self.counts['today']} due today"]
        if self.unread:
            parts.append(f"{self.unread} new notification{'s' if self.unread != 1 else ''}")
        return f"Your day in Vitals, {self.day:%a} {self.day.day} {self.day:%b}: {', '.join(parts)}"

    @property
    def more_tasks(self) -> int:
        """Overdue and due tasks beyond those listed."""
        return max(0, self.due - len(self.tasks))

    @property
    def more_notifications(self) -> int:
        return max(0, self.unread - len(self.notifications))


def digest_build(*, user: User, day: dt.date, now: dt.datetime) -> Digest:
    """``user``'s digest for ``day``: their task counts and the first overdue and due
    tasks, the notifications of the last day still unread, and for a manager the
    overdue tasks of each person on their teams and the team's accounts gone worse
    (as told to the manager, or to the account's owner)."""
    since = now - dt.timedelta(days=1)
    recent = Notification.objects.filter(user=user, created_at__gte=since, read_at__isnull=True)
    digest = Digest(
        user=user,
        day=day,
        counts=task_counts(user=user, today=day),
        tasks=tasks_due(user=user, today=day, limit=TASKS_SHOWN),
        notifications=list(recent.select_related("account").order_by("-id")[:NOTIFICATIONS_SHOWN]),
        unread=recent.count(),
    )
    if user.is_manager:
        members = team_member_ids(user=user)
        people = {p.pk: p for p in User.objects.filter(pk__in=members, is_active=True)}
        overdue = overdue_counts_by_assignee(users=list(people), today=day)
        digest.team = sorted(
            (TeamLine(person, overdue.get(pk, 0)) for pk, person in people.items()),
            key=lambda line: (-line.overdue, str(line.person)),
        )
        digest.team_worse = list(_team_worse(members=members, since=since))
    return digest


def _team_worse(*, members: list[int], since: dt.datetime) -> QuerySet[Notification]:
    """The team's accounts gone worse since ``since``, once per account and event, as
    told to their owners."""
    return (
        Notification.objects.filter(
            kind=Kind.LEVEL_WORSE,
            created_at__gte=since,
            user_id__in=members,
            account__in=Account.objects.filter(owner_id__in=members),
        )
        .select_related("account", "user")
        .order_by("-id")[:NOTIFICATIONS_SHOWN]
    )


def digest_render(digest: Digest, *, site: str) -> dict[str, str]:
    context = {"digest": digest, "site": site.rstrip("/")}
    return {
        "subject": digest.subject,
        "text": render_to_string("emails/digest.txt", context),
        "html": render_to_string("emails/digest.html", context),
    }


def digests_send(*, now: dt.datetime) -> int:
    """Hand every digest due now to the outbound deliveries (once per person and day);
    how many were new."""
    sent = 0
    for user, _, day in digests_due(now=now):
        digest = digest_build(user=user, day=day, now=now)
        message = digest_render(digest, site=settings.VITALS_SITE_URL)
        delivery = delivery_enqueue(
            channel=Delivery.Channel.EMAIL,
            target=user.email,
            event="digest",
            payload=json_body(message),
            key=digest_key(user.pk, day),
            now=now,
        )
        # One made meanwhile by another run (the same key) is that run's to count.
        if delivery.created_at == now:
            sent += 1
    return sent
