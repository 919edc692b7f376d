"""Score events (confirmed band changes and score drops) matched against event-triggered
playbooks: one small matcher per trigger (``EVENT_MATCHERS``), and the batch that claims
the events and turns them into runs (``score_events_process``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import (
    Max,
    OuterRef,
    Subquery,
)

from accounts.models import Team
from accounts.selectors import is_customer
from config.tasking import each, send_on_commit
from playbooks import matching
from playbooks.models import Playbook
from playbooks.services.closing import work_close_on_recovery
from playbooks.services.outbound import score_event_webhooks_enqueue
from playbooks.services.triggers.runs import Candidate, TriggerResult, active_playbooks, runs_create
from scoring.models import HealthScore, ScoreEvent


def _team_members(playbooks: Iterable[Playbook]) -> dict[int, set[int]]:
    team_ids = {p.owner_team_id for p in playbooks if p.owner_team_id}
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in Team.members.through.objects.filter(team_id__in=team_ids).values_list(
        "team_id", "user_id"
    ):
        members[team_id].add(user_id)
    return members


def window_max_subquery(within_days: int):
    """The highest score of the outer computation's account, under the same model
    version, in the ``within_days`` days before it: a drop is measured against scores of
    the same rules, so a new version never reads as a drop."""
    return (
        HealthScore.objects.filter(
            account_id=OuterRef("account_id"),
            model_id=OuterRef("model_id"),
            computed_at__lt=OuterRef("computed_at"),
            computed_at__gte=OuterRef("computed_at") - dt.timedelta(days=within_days),
        )
        .order_by()
        .values("account_id")
        .annotate(m=Max("score"))
        .values("m")[:1]
    )


def window_max_scores(*, health_score_ids: list[int], within_days: int) -> dict[int, float | None]:
    """For each computation, the highest score of the same account and model version in
    the ``within_days`` days before it (``None`` when there was none)."""
    if not health_score_ids:
        return {}
    return dict(
        HealthScore.objects.filter(pk__in=health_score_ids)
        .annotate(window_max=Subquery(window_max_subquery(within_days)))
        .values_list("pk", "window_max")
    )


# --- Score events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventMatch:
    """A score event that fires a playbook: the level causing it and the change to tell."""

    level: str
    delta: float | None


def _match_level_entered(playbook: Playbook, ev: ScoreEvent, maxima) -> EventMatch | None:
    if ev.kind != ScoreEvent.Kind.BAND_CHANGED:
        return None
    if not playbook.level_entered(from_level=ev.from_level, to_level=ev.to_level):
        return None
    return EventMatch(playbook.level, ev.delta)


def _match_band_changed(playbook: Playbook, ev: ScoreEvent, maxima) -> EventMatch | None:
    if ev.kind != ScoreEvent.Kind.BAND_CHANGED:
        return None
    from_name = ev.from_band.name if ev.from_band is not None else ""
    to_name = ev.to_band.name if ev.to_band is not None else ""
    if not matching.band_change_matches(playbook=playbook, from_name=from_name, to_name=to_name):
        return None
    return EventMatch(ev.to_level, ev.delta)


def _match_score_dropped(playbook: Playbook, ev: ScoreEvent, maxima) -> EventMatch | None:
    if ev.kind != ScoreEvent.Kind.SCORE_DROPPED or ev.score_after is None:
        return None
    within_days = matching.trigger_setting(playbook, "within_days", playbook.within_days)
    drop_points = matching.trigger_setting(playbook, "drop_points", playbook.drop_points)
    highest = maxima.get(within_days, {}).get(ev.health_score_id)
    if highest is None or highest - ev.score_after < drop_points:
        return None
    return EventMatch(ev.to_level, ev.score_after - highest)


EVENT_MATCHERS: dict[str, Callable[[Playbook, ScoreEvent, dict], EventMatch | None]] = {
    Playbook.Trigger.LEVEL_ENTERED: _match_level_entered,
    Playbook.Trigger.BAND_CHANGED: _match_band_changed,
    Playbook.Trigger.SCORE_DROPPED: _match_score_dropped,
}


def event_candidates(
    *,
    events: list[ScoreEvent],
    playbooks: list[Playbook],
    today: dt.date,
    not_before: dict[int, dt.datetime | None],
) -> list[Candidate]:
    """The runs these events call for (trigger, conditions, enabling, re-baselines), in
    memory: a handful of queries whatever the number of events."""
    members = _team_members(playbooks)
    drop_ids = [e.health_score_id for e in events if e.kind == ScoreEvent.Kind.SCORE_DROPPED]
    maxima = {
        days: window_max_scores(health_score_ids=drop_ids, within_days=days)
        for days in {
            p.within_days
            for p in playbooks
            if p.trigger == Playbook.Trigger.SCORE_DROPPED and p.within_days
        }
    }
    candidates = []
    for ev in events:
        account = ev.account
        if not is_customer(account.churned_at, on=today):
            continue
        for playbook in playbooks:
            team_id = playbook.owner_team_id
            since = not_before.get(playbook.pk)
            if since is not None and ev.created_at < since:
                continue
            if ev.rebaseline and not playbook.on_rebaseline:
                continue
            match = EVENT_MATCHERS[playbook.trigger](playbook, ev, maxima)
            if match is None or not matching.conditions_match(
                playbook=playbook,
                account=account,
                team_members=set() if team_id is None else members.get(team_id, set()),
                level=ev.to_level,
            ):
                continue
            candidates.append(
                Candidate(
                    playbook_id=playbook.pk,
                    account_id=ev.account_id,
                    event_key=f"score_event:{ev.pk}",
                    order=(ev.pk,),
                    score_event_id=ev.pk,
                    context=matching.band_change_context(
                        score=ev.score_after,
                        to_band=ev.to_band,
                        from_band=ev.from_band,
                        delta=match.delta,
                    ),
                    level=match.level,
                )
            )
    return candidates


def events_loaded(ids: list[int]) -> list[ScoreEvent]:
    return list(
        ScoreEvent.objects.filter(pk__in=ids)
        .select_related("from_band", "to_band", "health_score", "account__owner")
        .order_by("id")
    )


def score_events_process(
    *, now: dt.datetime, limit: int = 1000, dispatch: bool = True
) -> TriggerResult:
    """Turn up to ``limit`` unclaimed score events into playbook runs, in one transaction.

    Steps: claim the oldest unclaimed events (``FOR UPDATE SKIP LOCKED``: concurrent
    processors take different events; on SQLite transactions are serialised); match them
    against every active event-triggered playbook (trigger, conditions, enabling,
    re-baselines) in memory; create the runs (``runs_create``); close the work of the
    accounts that recovered (``work_close_on_recovery``); enqueue the
    ``account.band_changed`` / ``account.score_dropped`` / ``account.rebaselined``
    webhooks; mark the events claimed. A retry after a crash finds the events unclaimed
    and does it all again; one after the commit finds nothing. A handful of queries per
    batch, whatever its size.
    """
    result = TriggerResult()
    today = matching.local_today(now)
    with transaction.atomic():
        ids = list(
            ScoreEvent.objects.select_for_update(skip_locked=True)
            .filter(claimed_at__isnull=True)
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return result
        events = events_loaded(ids)
        playbooks = active_playbooks(triggers=Playbook.EVENT_TRIGGERS)
        candidates = event_candidates(
            events=events,
            playbooks=playbooks,
            today=today,
            not_before={p.pk: p.enabled_at for p in playbooks},
        )
        runs, due = runs_create(
            candidates=candidates, playbooks={p.pk: p for p in playbooks}, now=now
        )
        closed = work_close_on_recovery(events=events, now=now, dispatch=dispatch)
        deliveries = score_event_webhooks_enqueue(events=events, now=now)
        ScoreEvent.objects.filter(pk__in=ids).update(claimed_at=now)
        if dispatch:
            send_on_commit("playbooks.tasks.run_step", each(due))
            send_on_commit("playbooks.tasks.deliver", each(deliveries))
    result.events, result.runs, result.deliveries, result.closed = (
        len(events),
        runs,
        len(deliveries),
        closed,
    )
    result.step_runs_due = due
    return result


def score_events_process_all(*, now: dt.datetime, limit: int = 1000, dispatch: bool = True):
    """Process batches until no unclaimed event is left (commands, the demo, tasks)."""
    total = TriggerResult()
    while True:
        batch = score_events_process(now=now, limit=limit, dispatch=dispatch)
        total.add(batch)
        if batch.events < limit:
            return total


# --- State triggers ---------------------------------------------------------------------
