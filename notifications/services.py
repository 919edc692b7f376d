"""Every write of notifications: telling people (``notify``, which honours each person's
kinds and never tells one occurrence twice), marking read, saving a person's settings,
and the notifications made from score events (``level_worse_notify``). The producers of
task notifications are the task services of playbooks, which call ``notify``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import RISK_ORDER, RiskLevel, User
from notifications.models import Kind, Notification, NotificationSettings
from notifications.selectors import unread_known
from scoring.models import ScoreEvent

# Score events are looked at for this long after they happen: a producer that was down
# for a while still tells of them (once: ``notification_once``).
EVENT_HORIZON = dt.timedelta(days=2)


@dataclass(frozen=True)
class Draft:
    """A notification to be: for whom, what, where it leads, and which occurrence."""

    user_id: int | None  # nobody: told to no one
    kind: str
    title: str
    url: str
    key: str
    account_id: int | None = None


def settings_of(*, user_ids: Iterable[int]) -> dict[int, NotificationSettings]:
    """Each person's settings, the defaults (unsaved) for one who has none, in one query."""
    wanted = set(user_ids)
    found = {s.user_id: s for s in NotificationSettings.objects.filter(user_id__in=wanted)}
    return {pk: found.get(pk) or NotificationSettings(user_id=pk) for pk in wanted}


def watchers_of(*, owner_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each of ``owner_ids``, the managers of their teams who asked to be told of
    their teams' work too (scope ``team``), in one query."""
    rows = User.objects.filter(
        is_active=True,
        notification_settings__scope=NotificationSettings.Scope.TEAM,
        managed_teams__members__in=set(owner_ids),
    ).values_list("managed_teams__members", "pk")
    watchers: dict[int, set[int]] = {}
    for owner, manager in rows:
        watchers.setdefault(owner, set()).add(manager)
    return watchers


def with_watchers(drafts: Sequence[Draft]) -> list[Draft]:
    """``drafts`` and, for each, the same for the managers watching its person's team."""
    watchers = watchers_of(owner_ids={d.user_id for d in drafts if d.user_id is not None})
    out = list(drafts)
    for draft in drafts:
        for manager in watchers.get(draft.user_id or 0, ()):
            if manager != draft.user_id:
                out.append(
                    Draft(manager, draft.kind, draft.title, draft.url, draft.key, draft.account_id)
                )
    return out


def notify(*, drafts: Iterable[Draft], now: dt.datetime) -> int:
    """Tell each draft's person, if they take its kind; an occurrence already told to
    them is skipped. Returns how many drafts were offered to the database."""
    drafts = [draft for draft in drafts if draft.user_id is not None]
    if not drafts:
        return 0
    wanted = settings_of(user_ids={d.user_id for d in drafts if d.user_id is not None})
    rows = [
        Notification(
            user_id=draft.user_id,
            kind=draft.kind,
            account_id=draft.account_id,
            title=draft.title[:300],
            url=draft.url[:500],
            key=draft.key[:100],
            created_at=now,
        )
        for draft in drafts
        if draft.user_id is not None and draft.kind in wanted[draft.user_id].kinds
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def notify_watched(*, drafts: Iterable[Draft], now: dt.datetime, batch: int = 2000) -> int:
    """``notify`` the drafts and the managers watching their people's teams
    (``with_watchers``), ``batch`` drafts at a time, as they come from a producer's
    query."""
    told = 0
    pending: list[Draft] = []
    for draft in drafts:
        pending.append(draft)
        if len(pending) >= batch:
            told += notify(drafts=with_watchers(pending), now=now)
            pending = []
    return told + notify(drafts=with_watchers(pending), now=now)


def notification_read(*, user: User, pk: int, now: dt.datetime) -> Notification:
    """Mark ``user``'s notification ``pk`` read (again: no change). Notification.DoesNotExist
    for anyone else's."""
    notification = Notification.objects.get(pk=pk, user=user)
    if notification.read_at is None:
        notification.read_at = now
        notification.save(update_fields=["read_at"])
        unread_known(user=user, count=None)
    return notification


def notifications_read_all(*, user: User, now: dt.datetime) -> int:
    """Mark every unread notification of ``user`` read; how many were."""
    unread_known(user=user, count=None)
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=now)


SETTINGS_FIELDS = ("kinds", "scope", "digest", "digest_hour", "time_zone")


@transaction.atomic
def notification_settings_save(*, user: User, fields: dict[str, Any]) -> NotificationSettings:
    """Save ``user``'s settings with ``fields`` changed, checked as a whole (ValidationError
    naming each bad field; nothing saved then)."""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"Not notification settings: {', '.join(sorted(unknown))}.")
    current = NotificationSettings.objects.select_for_update().filter(user=user).first()
    current = current or NotificationSettings(user=user)
    for name, value in fields.items():
        setattr(current, name, value)
    current.kinds = [kind for kind in Kind.values if kind in set(current.kinds)]
    current.full_clean()
    current.save()
    return current


# --- From score events -------------------------------------------------------------------------


def _worse(event: ScoreEvent) -> bool:
    after = event.to_band.level if event.to_band else ""
    before = event.from_band.level if event.from_band else ""
    if after not in RISK_ORDER:
        return False
    if before not in RISK_ORDER:  # first scored: only a bad start is news
        return after in (RiskLevel.AT_RISK, RiskLevel.CRITICAL)
    return RISK_ORDER[after] > RISK_ORDER[before]


def level_worse_events(
    *, now: dt.datetime, horizon: dt.timedelta = EVENT_HORIZON
) -> QuerySet[ScoreEvent]:
    return (
        ScoreEvent.objects.filter(
            kind=ScoreEvent.Kind.BAND_CHANGED,
            rebaseline=False,
            created_at__gte=now - horizon,
            account__owner__isnull=False,
        )
        .select_related("account", "from_band", "to_band")
        .order_by("created_at", "id")
    )


def level_worse_notify(
    *, now: dt.datetime, horizon: dt.timedelta = EVENT_HORIZON, batch: int = 2000
) -> int:
    """Tell owners (and the managers watching their teams) of each account that entered a
    worse risk level in the last ``horizon``: once per event (its key), however often
    this runs. Read and written a batch at a time."""
    return notify_watched(
        drafts=_level_worse_drafts(now=now, horizon=horizon), now=now, batch=batch
    )


def _level_worse_drafts(*, now: dt.datetime, horizon: dt.timedelta) -> Iterator[Draft]:
    for event in level_worse_events(now=now, horizon=horizon).iterator(chunk_size=2000):
        if not _worse(event) or event.to_band is None:
            continue
        account = event.account
        was = f" (was {event.from_band.name})" if event.from_band else ""
        score = f" · score {event.score_after:.0f}" if event.score_after is not None else ""
        yield Draft(
            user_id=account.owner_id,
            kind=Kind.LEVEL_WORSE,
            title=f"{account.name} is now {event.to_band.name}{was}{score}",
            url=account.get_absolute_url(),
            key=f"event:{event.pk}",
            account_id=account.pk,
        )
