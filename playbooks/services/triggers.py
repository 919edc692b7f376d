"""From triggering events to playbook runs, exactly once each.

Two sources of events:

- ``score_events_process``: the confirmed band changes and score drops the recompute
  writes as ``ScoreEvent`` rows, claimed in batches; the same batch closes the work of
  accounts that recovered (``playbooks.services.closing``);
- ``state_triggers_evaluate``: states checked periodically — score below X, renewal
  within N days, a metric crossing a threshold, a new account, and a score drop made of
  small steps (which the recompute records no event for).

Each trigger is a small function: ``EVENT_MATCHERS`` say whether a score event fires a
playbook, ``STATE_CANDIDATES`` find the accounts whose state fires one. Both end in
``_runs_create``, which under a lock on the accounts applies each playbook's cooldown,
inserts the runs (unique per playbook, account and event key) and their first step
runs, all in the caller's transaction.

Trust rules applied here:

- a playbook acts on events from its ``enabled_at`` on; earlier ones only through
  ``playbook_backfill``, an explicit action with a dry run first;
- an event that is a re-baseline (a new model version, not the account's data) fires
  nothing unless the playbook opts in; a state met while the account's latest scoring
  is a re-baseline is acknowledged instead: a run not acted on, under its own key
  ("rebaseline:<health score>"), which starts the cooldown, so the new version's
  judgement of a state is acted on only as a state that goes on holding would be;
- a hold-out share of the accounts is held out of the playbook (its runs for them are
  recorded as held out: no steps), chosen by a hash of (playbook, account): the same
  account is held out however often, and whoever makes its runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from django.db import transaction
from django.db.models import (
    CharField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Cast, Concat, Lead, RowNumber

from accounts.models import Account, Team
from accounts.selectors import customers_q, is_customer
from config.tasking import each, send_on_commit
from playbooks import matching
from playbooks.models import Playbook, PlaybookRun, PlaybookStepRun
from playbooks.services.closing import work_close_on_recovery
from playbooks.services.outbound import score_event_webhooks_enqueue
from scoring.formatting import format_delta, format_score
from scoring.models import AccountHealth, HealthScore, ScoreEvent, Signal

# Accounts locked and runs inserted per transaction in the state-trigger path.
STATE_BATCH = 500
# Metric thresholds look at accounts with a signal of the metric stored this recently.
SIGNAL_LOOKBACK = dt.timedelta(days=2)
# "Account created" fires for accounts created this recently.
CREATED_LOOKBACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class Candidate:
    """A playbook that would fire for an account because of one event."""

    playbook_id: int
    account_id: int
    event_key: str
    order: tuple = ()
    score_event_id: int | None = None
    context: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # The risk level that causes the run (recovering to a better one closes its work).
    level: str = ""
    # A state met only because the scoring model changed: recorded, not acted on.
    rebaseline: bool = False


@dataclass
class TriggerResult:
    events: int = 0
    runs: int = 0
    deliveries: int = 0
    closed: int = 0
    step_runs_due: list[int] = field(default_factory=list)

    def add(self, other: TriggerResult) -> None:
        self.events += other.events
        self.runs += other.runs
        self.deliveries += other.deliveries
        self.closed += other.closed
        self.step_runs_due += other.step_runs_due


def active_playbooks(*, triggers: Iterable[str]) -> list[Playbook]:
    return list(
        Playbook.objects.filter(is_active=True, trigger__in=list(triggers))
        .select_related("metric", "owner_team")
        .prefetch_related("steps")
        .order_by("id")
    )


def first_step(playbook: Playbook):
    steps = sorted(playbook.steps.all(), key=lambda s: (s.position, s.pk))
    return steps[0] if steps else None


def held_out(*, playbook: Playbook, account_id: int) -> bool:
    """Whether the account is in the playbook's hold-out: a hash of the two, so it is
    chosen (or not) once and for all, whoever makes its runs and however often. A whole
    account is held out, never some of its runs, so the held-out group is never touched
    by the playbook."""
    if not playbook.holdout_pct:
        return False
    digest = hashlib.sha256(f"holdout:{playbook.pk}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < playbook.holdout_pct


def holdout_eligible(*, playbook: Playbook, arr) -> bool:
    """Whether an account with ``arr`` may be held out of the playbook: it holds some out,
    and the account is within its ARR limit (the largest accounts are always acted on)."""
    if not playbook.holdout_pct:
        return False
    return playbook.holdout_arr_max is None or (arr is not None and arr <= playbook.holdout_arr_max)


def _runs_plan(
    *, candidates: list[Candidate], playbooks: dict[int, Playbook], now: dt.datetime
) -> list[PlaybookRun]:
    """The runs ``candidates`` call for, not yet written: those whose event has no run
    yet and whose (playbook, account) is out of the playbook's cooldown — counting runs
    planned earlier in the same list."""
    if not candidates:
        return []
    account_ids = sorted({c.account_id for c in candidates})
    playbook_ids = sorted({c.playbook_id for c in candidates})
    keys = sorted({c.event_key for c in candidates})
    longest = max(playbooks[pk].cooldown_days for pk in playbook_ids)
    recent = Q(event_key__in=keys)
    if longest:
        recent |= Q(created_at__gt=now - dt.timedelta(days=longest))
    taken: set[tuple[int, int, str]] = set()
    cooling: set[tuple[int, int]] = set()
    for pb_id, account_id, key, created_at in (
        PlaybookRun.objects.filter(playbook_id__in=playbook_ids, account_id__in=account_ids)
        .filter(recent)
        .values_list("playbook_id", "account_id", "event_key", "created_at")
    ):
        taken.add((pb_id, account_id, key))
        cooldown = playbooks[pb_id].cooldown_days
        if cooldown and created_at > now - dt.timedelta(days=cooldown):
            cooling.add((pb_id, account_id))

    arr = {}
    if any(playbooks[pk].holdout_pct for pk in playbook_ids):
        arr = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "arr"))
    runs: list[PlaybookRun] = []
    for c in sorted(candidates, key=lambda c: c.order):
        playbook = playbooks[c.playbook_id]
        if (c.playbook_id, c.account_id, c.event_key) in taken:
            continue
        if playbook.cooldown_days and (c.playbook_id, c.account_id) in cooling:
            continue
        taken.add((c.playbook_id, c.account_id, c.event_key))
        if playbook.cooldown_days:
            cooling.add((c.playbook_id, c.account_id))
        eligible = holdout_eligible(playbook=playbook, arr=arr.get(c.account_id))
        if c.rebaseline:
            status = PlaybookRun.Status.SKIPPED
        elif eligible and held_out(playbook=playbook, account_id=c.account_id):
            status = PlaybookRun.Status.HELD_OUT
        elif first_step(playbook) is None:
            status = PlaybookRun.Status.DONE
        else:
            status = PlaybookRun.Status.RUNNING
        runs.append(
            PlaybookRun(
                playbook_id=c.playbook_id,
                account_id=c.account_id,
                event_key=c.event_key,
                score_event_id=c.score_event_id,
                context=c.context,
                level=c.level,
                in_experiment=eligible and not c.rebaseline,
                status=status,
                created_at=now,
                finished_at=None if status == PlaybookRun.Status.RUNNING else now,
            )
        )
    return runs


def _runs_create(
    *, candidates: list[Candidate], playbooks: dict[int, Playbook], now: dt.datetime
) -> tuple[int, list[int]]:
    """Insert the runs ``candidates`` call for; returns (runs created, step runs due now).

    Must run inside a transaction. Steps:

    1. lock the candidates' accounts (in id order, so two processors never deadlock;
       ``FOR NO KEY UPDATE`` so the recompute's inserts that reference them don't wait);
    2. plan the runs (``_runs_plan``: events that already fired and cooldowns left out);
    3. insert them (the unique constraint is the last word) and the first steps of those
       that are acted on.
    """
    if not candidates:
        return 0, []
    list(
        Account.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted({c.account_id for c in candidates}))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    new_runs = _runs_plan(candidates=candidates, playbooks=playbooks, now=now)
    if not new_runs:
        return 0, []
    PlaybookRun.objects.bulk_create(new_runs, ignore_conflicts=True, batch_size=500)
    wanted = {(r.playbook_id, r.account_id, r.event_key) for r in new_runs}
    created = [
        (pk, pb_id, status)
        for pk, pb_id, account_id, key, status in PlaybookRun.objects.filter(
            playbook_id__in=sorted({r.playbook_id for r in new_runs}),
            event_key__in=sorted({r.event_key for r in new_runs}),
            created_at=now,
        ).values_list("pk", "playbook_id", "account_id", "event_key", "status")
        if (pb_id, account_id, key) in wanted
    ]
    step_runs = []
    for run_id, pb_id, status in created:
        step = first_step(playbooks[pb_id])
        if step is None or status != PlaybookRun.Status.RUNNING:
            continue
        due_at = now + dt.timedelta(days=step.wait_days)
        step_runs.append(
            PlaybookStepRun(
                run_id=run_id,
                step=step,
                due_at=due_at,
                dispatched_at=now if due_at <= now else None,
            )
        )
    PlaybookStepRun.objects.bulk_create(step_runs, ignore_conflicts=True, batch_size=500)
    due = list(
        PlaybookStepRun.objects.filter(
            run_id__in=[pk for pk, _, _ in created],
            status=PlaybookStepRun.Status.WAITING,
            due_at__lte=now,
        ).values_list("pk", flat=True)
    )
    return len(created), due


def _team_members(playbooks: Iterable[Playbook]) -> dict[int, set[int]]:
    team_ids = {p.owner_team_id for p in playbooks if p.owner_team_id}
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in Team.members.through.objects.filter(team_id__in=team_ids).values_list(
        "team_id", "user_id"
    ):
        members[team_id].add(user_id)
    return members


def _window_max(within_days: int):
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
        .annotate(window_max=Subquery(_window_max(within_days)))
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
    from_name = ev.from_band.name if ev.from_band_id else ""
    to_name = ev.to_band.name if ev.to_band_id else ""
    if not matching.band_change_matches(playbook=playbook, from_name=from_name, to_name=to_name):
        return None
    return EventMatch(ev.to_level, ev.delta)


def _match_score_dropped(playbook: Playbook, ev: ScoreEvent, maxima) -> EventMatch | None:
    if ev.kind != ScoreEvent.Kind.SCORE_DROPPED or ev.score_after is None:
        return None
    highest = maxima.get(playbook.within_days, {}).get(ev.health_score_id)
    if highest is None or highest - ev.score_after < playbook.drop_points:
        return None
    return EventMatch(ev.to_level, ev.score_after - highest)


EVENT_MATCHERS: dict[str, Callable[[Playbook, ScoreEvent, dict], EventMatch | None]] = {
    Playbook.Trigger.LEVEL_ENTERED: _match_level_entered,
    Playbook.Trigger.BAND_CHANGED: _match_band_changed,
    Playbook.Trigger.SCORE_DROPPED: _match_score_dropped,
}


def _event_candidates(
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
            since = not_before.get(playbook.pk)
            if since is not None and ev.created_at < since:
                continue
            if ev.rebaseline and not playbook.on_rebaseline:
                continue
            match = EVENT_MATCHERS[playbook.trigger](playbook, ev, maxima)
            if match is None or not matching.conditions_match(
                playbook=playbook,
                account=account,
                team_members=members.get(playbook.owner_team_id, set()),
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
                    context={
                        "score": format_score(ev.score_after),
                        "band": ev.to_band.name if ev.to_band_id else "",
                        "previous_band": ev.from_band.name if ev.from_band_id else "",
                        "delta": format_delta(match.delta),
                    },
                    level=match.level,
                )
            )
    return candidates


def _events_loaded(ids: list[int]) -> list[ScoreEvent]:
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
    re-baselines) in memory; create the runs (``_runs_create``); close the work of the
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
        events = _events_loaded(ids)
        playbooks = active_playbooks(triggers=Playbook.EVENT_TRIGGERS)
        candidates = _event_candidates(
            events=events,
            playbooks=playbooks,
            today=today,
            not_before={p.pk: p.enabled_at for p in playbooks},
        )
        runs, due = _runs_create(
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


def _run_exists(playbook: Playbook, prefix: str, ref: str) -> Exists:
    """A run of ``playbook`` for the outer account whose key is ``prefix`` + the outer
    ``ref`` column: cheap exclusion of events that fired already (the unique constraint
    and ``_runs_create`` remain the guarantee)."""
    return Exists(
        PlaybookRun.objects.filter(
            playbook=playbook,
            account_id=OuterRef("account_id"),
            event_key=Concat(Value(prefix), Cast(OuterRef(ref), CharField())),
        )
    )


def _cooling(playbook: Playbook, now: dt.datetime, account_ref: str = "account_id") -> Exists:
    return Exists(
        PlaybookRun.objects.filter(
            playbook=playbook,
            account_id=OuterRef(account_ref),
            created_at__gt=now - dt.timedelta(days=playbook.cooldown_days),
        )
    )


@dataclass(frozen=True)
class StateQuery:
    """What a state trigger looks at: the playbook, the moment, the accounts its
    conditions allow, and the earliest event it may act on (``since``: its enabling, or
    a backfill's start)."""

    playbook: Playbook
    now: dt.datetime
    accounts: object
    since: dt.datetime | None

    @property
    def today(self) -> dt.date:
        return matching.local_today(self.now)


def _healths(q: StateQuery):
    """The latest health of the allowed accounts, from computations made since ``since``
    (older ones are the state before the playbook was on), outside the cooldown."""
    rows = AccountHealth.objects.filter(account__in=q.accounts, score__isnull=False)
    if q.since is not None:
        rows = rows.filter(computed_at__gte=q.since)
    if q.playbook.cooldown_days:
        rows = rows.exclude(_cooling(q.playbook, q.now))
    return rows


def _score_below(q: StateQuery) -> list[Candidate]:
    rows = (
        _healths(q)
        .filter(score__lt=q.playbook.score_threshold)
        .exclude(_run_exists(q.playbook, "score_below:", "health_score_id"))
        .values_list("account_id", "health_score_id", "score", "band__name", "level")
    )
    return [
        Candidate(
            q.playbook.pk,
            account_id,
            f"score_below:{hs_id}",
            order=(hs_id,),
            context={"score": format_score(score), "band": band or ""},
            level=level,
        )
        for account_id, hs_id, score, band, level in rows
    ]


def _score_dropped(q: StateQuery) -> list[Candidate]:
    """Drops made of small steps: computations the recompute recorded no score-drop event
    for (those that have one are handled by score_events_process)."""
    playbook = q.playbook
    rows = (
        _healths(q)
        .filter(computed_at__gte=q.now - dt.timedelta(days=playbook.within_days))
        .exclude(
            Exists(
                ScoreEvent.objects.filter(
                    health_score_id=OuterRef("health_score_id"),
                    kind=ScoreEvent.Kind.SCORE_DROPPED,
                )
            )
        )
        .exclude(_run_exists(playbook, "score_drop:", "health_score_id"))
        .annotate(window_max=Subquery(_window_max(playbook.within_days)))
        .filter(window_max__gte=F("score") + playbook.drop_points)
        .values_list("account_id", "health_score_id", "score", "band__name", "window_max", "level")
    )
    return [
        Candidate(
            playbook.pk,
            account_id,
            f"score_drop:{hs_id}",
            order=(hs_id,),
            context={
                "score": format_score(score),
                "band": band or "",
                "delta": format_delta(score - window_max),
            },
            level=level,
        )
        for account_id, hs_id, score, band, window_max, level in rows
    ]


def _renewal_within(q: StateQuery) -> list[Candidate]:
    playbook = q.playbook
    rows = q.accounts.filter(
        matching.renewal_band_q(playbook=playbook),
        renewal_date__gte=q.today,
        renewal_date__lte=q.today + dt.timedelta(days=playbook.renewal_days),
    )
    if q.since is not None:
        # The renewal came into the window on renewal date − N days: from enabling on.
        rows = rows.filter(
            renewal_date__gte=matching.local_today(q.since)
            + dt.timedelta(days=playbook.renewal_days)
        )
    rows = rows.exclude(
        Exists(
            PlaybookRun.objects.filter(
                playbook=playbook,
                account_id=OuterRef("pk"),
                event_key=Concat(Value("renewal:"), Cast(OuterRef("renewal_date"), CharField())),
            )
        )
    )
    if playbook.cooldown_days:
        rows = rows.exclude(_cooling(playbook, q.now, "pk"))
    return [
        Candidate(
            playbook.pk,
            account_id,
            f"renewal:{renewal.isoformat()}",
            order=(account_id,),
            context={"score": format_score(score), "band": band or ""},
            level=level or "",
        )
        for account_id, renewal, score, band, level in rows.values_list(
            "pk", "renewal_date", "health__score", "health__band__name", "health__level"
        )
    ]


def _metric_threshold(q: StateQuery) -> list[Candidate]:
    playbook = q.playbook
    newest_first = [F("timestamp").desc(), F("id").desc()]
    stored_since = q.now - SIGNAL_LOOKBACK
    if q.since is not None and q.since > stored_since:
        stored_since = q.since
    recent = Signal.objects.filter(
        metric_id=playbook.metric_id, created_at__gte=stored_since
    ).values("account_id")
    rows = (
        Signal.objects.filter(
            metric_id=playbook.metric_id,
            account_id__in=recent,
            account__in=q.accounts,
            timestamp__lte=q.now,
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("account_id")], order_by=newest_first),
            previous=Window(Lead("value"), partition_by=[F("account_id")], order_by=newest_first),
        )
        .filter(rank=1)
        .values_list("pk", "account_id", "value", "previous", "created_at")
    )
    crossing = [
        (pk, account_id, value, previous)
        for pk, account_id, value, previous, created_at in rows
        if created_at >= stored_since
        and matching.crossed(playbook=playbook, value=value, previous=previous)
    ]
    health = {
        a: (s, b, level)
        for a, s, b, level in AccountHealth.objects.filter(
            account_id__in=[row[1] for row in crossing]
        ).values_list("account_id", "score", "band__name", "level")
    }
    candidates = []
    for pk, account_id, value, previous in crossing:
        score, band, level = health.get(account_id, (None, None, ""))
        candidates.append(
            Candidate(
                playbook.pk,
                account_id,
                f"signal:{pk}",
                order=(pk,),
                context={
                    "score": format_score(score),
                    "band": band or "",
                    "delta": format_delta(None if previous is None else value - previous),
                },
                level=level,
            )
        )
    return candidates


def _account_created(q: StateQuery) -> list[Candidate]:
    earliest = q.now - CREATED_LOOKBACK
    if q.since is not None and q.since > earliest:
        earliest = q.since
    rows = q.accounts.filter(created_at__gte=earliest, created_at__lte=q.now).exclude(
        Exists(
            PlaybookRun.objects.filter(
                playbook=q.playbook,
                account_id=OuterRef("pk"),
                event_key=Concat(Value("account_created:"), Cast(OuterRef("pk"), CharField())),
            )
        )
    )
    return [
        Candidate(
            q.playbook.pk,
            account_id,
            f"account_created:{account_id}",
            order=(account_id,),
            level=level or "",
        )
        for account_id, level in rows.values_list("pk", "health__level")
    ]


STATE_CANDIDATES: dict[str, Callable[[StateQuery], list[Candidate]]] = {
    Playbook.Trigger.SCORE_BELOW: _score_below,
    Playbook.Trigger.SCORE_DROPPED: _score_dropped,
    Playbook.Trigger.RENEWAL_WITHIN: _renewal_within,
    Playbook.Trigger.METRIC_THRESHOLD: _metric_threshold,
    Playbook.Trigger.ACCOUNT_CREATED: _account_created,
}
STATE_TRIGGERS = tuple(STATE_CANDIDATES)


def _state_candidates(
    playbook: Playbook, *, now: dt.datetime, since: dt.datetime | None
) -> list[Candidate]:
    """The trigger's candidates; those of accounts whose latest scoring is a re-baseline
    become acknowledgements (unless the playbook acts on re-baselines)."""
    today = matching.local_today(now)
    accounts = Account.objects.filter(
        matching.conditions_q(playbook=playbook), customers_q(on=today)
    )
    candidates = STATE_CANDIDATES[playbook.trigger](
        StateQuery(playbook=playbook, now=now, accounts=accounts, since=since)
    )
    if playbook.on_rebaseline or not candidates:
        return candidates
    rebaselined = dict(
        AccountHealth.objects.filter(
            account_id__in={c.account_id for c in candidates}, rebaseline=True
        ).values_list("account_id", "health_score_id")
    )
    return [
        replace(c, event_key=f"rebaseline:{rebaselined[c.account_id]}", rebaseline=True)
        if c.account_id in rebaselined
        else c
        for c in candidates
    ]


def _state_runs_create(
    playbook: Playbook, candidates: list[Candidate], *, now: dt.datetime, dispatch: bool
) -> TriggerResult:
    result = TriggerResult(events=len(candidates))
    for start in range(0, len(candidates), STATE_BATCH):
        with transaction.atomic():
            runs, due = _runs_create(
                candidates=candidates[start : start + STATE_BATCH],
                playbooks={playbook.pk: playbook},
                now=now,
            )
            if dispatch:
                send_on_commit("playbooks.tasks.run_step", each(due))
        result.runs += runs
        result.step_runs_due += due
    return result


def state_triggers_evaluate(
    *, now: dt.datetime, playbook_ids: Iterable[int] | None = None, dispatch: bool = True
) -> TriggerResult:
    """Fire every active state-triggered playbook whose state holds now, for events
    since the playbook was enabled.

    Per playbook: one set-based query finds the accounts whose state matches (conditions
    applied, events that already fired and accounts in cooldown left out); the runs are
    then created ``STATE_BATCH`` accounts per transaction. Event keys make it safe to
    run as often as wanted: "score_below:<health score>" (once per computation),
    "score_drop:<health score>", "renewal:<renewal date>", "signal:<signal>",
    "account_created:<account>".
    """
    result = TriggerResult()
    playbooks = active_playbooks(triggers=STATE_TRIGGERS)
    if playbook_ids is not None:
        wanted = set(playbook_ids)
        playbooks = [p for p in playbooks if p.pk in wanted]
    for playbook in playbooks:
        candidates = _state_candidates(playbook, now=now, since=playbook.enabled_at)
        result.add(_state_runs_create(playbook, candidates, now=now, dispatch=dispatch))
    return result


# --- Backfill ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backfill:
    """What a backfill did (or, as a dry run, would do): events considered, runs."""

    playbook: Playbook
    since: dt.datetime
    until: dt.datetime | None
    events: int
    runs: int
    dry_run: bool


def playbook_backfill(
    *, playbook: Playbook, since: dt.datetime, now: dt.datetime, dry_run: bool, dispatch=True
) -> Backfill:
    """Act on the events a playbook missed before it was enabled: from ``since`` up to
    ``enabled_at``. A dry run counts the runs it would create and writes nothing; the
    real one creates them (each event still fires once: event keys and cooldowns apply
    as to any run). Churned accounts and re-baselines are left out as usual."""
    until = playbook.enabled_at
    candidates: list[Candidate]
    if playbook.trigger in Playbook.EVENT_TRIGGERS:
        events = ScoreEvent.objects.filter(created_at__gte=since)
        if until is not None:
            events = events.filter(created_at__lt=until)
        candidates = []
        ids = list(events.order_by("id").values_list("pk", flat=True))
        for start in range(0, len(ids), 1000):
            candidates += _event_candidates(
                events=_events_loaded(ids[start : start + 1000]),
                playbooks=[playbook],
                today=matching.local_today(now),
                not_before={},
            )
    else:
        candidates = [
            c for c in _state_candidates(playbook, now=now, since=since) if not c.rebaseline
        ]
    if dry_run:
        with transaction.atomic():
            runs = len(
                _runs_plan(candidates=candidates, playbooks={playbook.pk: playbook}, now=now)
            )
        return Backfill(playbook, since, until, len(candidates), runs, True)
    result = _state_runs_create(playbook, candidates, now=now, dispatch=dispatch)
    return Backfill(playbook, since, until, result.events, result.runs, False)
