"""From triggering events to playbook runs, exactly once each.

Two sources of events:

- ``score_events_process``: the band changes and score drops the recompute writes as
  ``ScoreEvent`` rows, claimed in batches;
- ``state_triggers_evaluate``: states checked periodically — score below X, renewal
  within N days while in a band, a metric crossing a threshold, a new account, and a
  score drop made of small steps (which the recompute records no event for).

Both end in ``_runs_create``, which under a lock on the accounts applies each playbook's
cooldown, inserts the runs (unique per playbook, account and event key) and their first
step runs, all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

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
from playbooks import matching
from playbooks.models import Playbook, PlaybookRun, PlaybookStepRun
from playbooks.services.common import send_on_commit
from playbooks.services.outbound import score_event_webhooks_enqueue
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


@dataclass
class TriggerResult:
    events: int = 0
    runs: int = 0
    deliveries: int = 0
    step_runs_due: list[int] = field(default_factory=list)

    def add(self, other: TriggerResult) -> None:
        self.events += other.events
        self.runs += other.runs
        self.deliveries += other.deliveries
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


def _runs_create(
    *, candidates: list[Candidate], playbooks: dict[int, Playbook], now: dt.datetime
) -> tuple[int, list[int]]:
    """Insert the runs ``candidates`` call for; returns (runs created, step runs due now).

    Must run inside a transaction. Steps:

    1. lock the candidates' accounts (in id order, so two processors never deadlock;
       ``FOR NO KEY UPDATE`` so the recompute's inserts that reference them don't wait);
    2. drop candidates whose event already has a run, or whose (playbook, account) had a
       run within the playbook's cooldown — including one made earlier in this batch;
    3. insert the runs (the unique constraint is the last word) and their first steps.
    """
    if not candidates:
        return 0, []
    account_ids = sorted({c.account_id for c in candidates})
    list(
        Account.objects.select_for_update(no_key=True)
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
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

    new_runs: list[PlaybookRun] = []
    for c in sorted(candidates, key=lambda c: c.order):
        playbook = playbooks[c.playbook_id]
        if (c.playbook_id, c.account_id, c.event_key) in taken:
            continue
        if playbook.cooldown_days and (c.playbook_id, c.account_id) in cooling:
            continue
        taken.add((c.playbook_id, c.account_id, c.event_key))
        if playbook.cooldown_days:
            cooling.add((c.playbook_id, c.account_id))
        has_steps = first_step(playbook) is not None
        new_runs.append(
            PlaybookRun(
                playbook_id=c.playbook_id,
                account_id=c.account_id,
                event_key=c.event_key,
                score_event_id=c.score_event_id,
                context=c.context,
                status=PlaybookRun.Status.RUNNING if has_steps else PlaybookRun.Status.DONE,
                created_at=now,
                finished_at=None if has_steps else now,
            )
        )
    if not new_runs:
        return 0, []
    PlaybookRun.objects.bulk_create(new_runs, ignore_conflicts=True, batch_size=500)
    wanted = {(r.playbook_id, r.account_id, r.event_key) for r in new_runs}
    created = [
        (pk, pb_id)
        for pk, pb_id, account_id, key in PlaybookRun.objects.filter(
            playbook_id__in=playbook_ids,
            event_key__in=sorted({r.event_key for r in new_runs}),
            created_at=now,
        ).values_list("pk", "playbook_id", "account_id", "event_key")
        if (pb_id, account_id, key) in wanted
    ]
    step_runs = []
    for run_id, pb_id in created:
        step = first_step(playbooks[pb_id])
        if step is None:
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
            run_id__in=[pk for pk, _ in created],
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


def window_max_scores(*, health_score_ids: list[int], within_days: int) -> dict[int, float | None]:
    """For each computation, the highest score of the same account in the ``within_days``
    days before it (``None`` when there was none)."""
    if not health_score_ids:
        return {}
    highest = (
        HealthScore.objects.filter(
            account_id=OuterRef("account_id"),
            computed_at__lt=OuterRef("computed_at"),
            computed_at__gte=OuterRef("computed_at") - dt.timedelta(days=within_days),
        )
        .order_by()
        .values("account_id")
        .annotate(m=Max("score"))
        .values("m")[:1]
    )
    return dict(
        HealthScore.objects.filter(pk__in=health_score_ids)
        .annotate(window_max=Subquery(highest))
        .values_list("pk", "window_max")
    )


def score_events_process(
    *, now: dt.datetime, limit: int = 1000, dispatch: bool = True
) -> TriggerResult:
    """Turn up to ``limit`` unclaimed score events into playbook runs, in one transaction.

    Steps: claim the oldest unclaimed events (``FOR UPDATE SKIP LOCKED``: concurrent
    processors take different events; on SQLite transactions are serialised); match them
    against every active band-changed and score-dropped playbook (trigger, conditions) in
    memory; create the runs (``_runs_create``); enqueue the ``account.band_changed`` /
    ``account.score_dropped`` webhooks; mark the events claimed. A retry after a crash
    finds the events unclaimed and does it all again; one after the commit finds nothing.
    A handful of queries per batch, whatever its size.
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
        events = list(
            ScoreEvent.objects.filter(pk__in=ids)
            .select_related("from_band", "to_band", "health_score", "account__owner")
            .order_by("id")
        )
        playbooks = active_playbooks(triggers=Playbook.EVENT_TRIGGERS)
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
            if account.churned_at is not None and account.churned_at <= today:
                continue
            from_name = ev.from_band.name if ev.from_band_id else ""
            to_name = ev.to_band.name if ev.to_band_id else ""
            for playbook in playbooks:
                delta = ev.delta
                if playbook.trigger == Playbook.Trigger.BAND_CHANGED:
                    if ev.kind != ScoreEvent.Kind.BAND_CHANGED or not matching.band_change_matches(
                        playbook=playbook, from_name=from_name, to_name=to_name
                    ):
                        continue
                else:
                    if ev.kind != ScoreEvent.Kind.SCORE_DROPPED or ev.score_after is None:
                        continue
                    highest = maxima.get(playbook.within_days, {}).get(ev.health_score_id)
                    if highest is None or highest - ev.score_after < playbook.drop_points:
                        continue
                    delta = ev.score_after - highest
                if not matching.conditions_match(
                    playbook=playbook,
                    account=account,
                    team_members=members.get(playbook.owner_team_id, set()),
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
                            "score": matching.fmt_score(ev.score_after),
                            "band": to_name,
                            "previous_band": from_name,
                            "delta": matching.fmt_delta(delta),
                        },
                    )
                )
        runs, due = _runs_create(
            candidates=candidates, playbooks={p.pk: p for p in playbooks}, now=now
        )
        deliveries = score_event_webhooks_enqueue(events=events, now=now)
        ScoreEvent.objects.filter(pk__in=ids).update(claimed_at=now)
        if dispatch:
            send_on_commit(task_name="run_step", ids=due)
            send_on_commit(task_name="deliver", ids=deliveries)
    result.events, result.runs, result.deliveries, result.step_runs_due = (
        len(events),
        runs,
        len(deliveries),
        due,
    )
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


def _state_candidates(playbook: Playbook, *, now: dt.datetime) -> list[Candidate]:
    today = matching.local_today(now)
    t = Playbook.Trigger
    accounts = Account.objects.filter(
        matching.conditions_q(playbook=playbook), matching.active_accounts_q(today=today)
    )
    candidates = []
    if playbook.trigger == t.SCORE_BELOW:
        rows = (
            AccountHealth.objects.filter(
                account__in=accounts, score__isnull=False, score__lt=playbook.score_threshold
            )
            .exclude(_run_exists(playbook, "score_below:", "health_score_id"))
            .values_list("account_id", "health_score_id", "score", "band__name")
        )
        if playbook.cooldown_days:
            rows = rows.exclude(_cooling(playbook, now))
        for account_id, hs_id, score, band in rows:
            candidates.append(
                Candidate(
                    playbook.pk,
                    account_id,
                    f"score_below:{hs_id}",
                    order=(hs_id,),
                    context={"score": matching.fmt_score(score), "band": band or ""},
                )
            )
    elif playbook.trigger == t.SCORE_DROPPED:
        # Drops made of small steps: computations the recompute recorded no score-drop
        # event for (those that have one are handled by score_events_process).
        highest = (
            HealthScore.objects.filter(
                account_id=OuterRef("account_id"),
                computed_at__lt=OuterRef("computed_at"),
                computed_at__gte=OuterRef("computed_at") - dt.timedelta(days=playbook.within_days),
            )
            .order_by()
            .values("account_id")
            .annotate(m=Max("score"))
            .values("m")[:1]
        )
        rows = (
            AccountHealth.objects.filter(
                account__in=accounts,
                score__isnull=False,
                computed_at__gte=now - dt.timedelta(days=playbook.within_days),
            )
            .exclude(
                Exists(
                    ScoreEvent.objects.filter(
                        health_score_id=OuterRef("health_score_id"),
                        kind=ScoreEvent.Kind.SCORE_DROPPED,
                    )
                )
            )
            .exclude(_run_exists(playbook, "score_drop:", "health_score_id"))
            .annotate(window_max=Subquery(highest))
            .filter(window_max__gte=F("score") + playbook.drop_points)
            .values_list("account_id", "health_score_id", "score", "band__name", "window_max")
        )
        if playbook.cooldown_days:
            rows = rows.exclude(_cooling(playbook, now))
        for account_id, hs_id, score, band, window_max in rows:
            candidates.append(
                Candidate(
                    playbook.pk,
                    account_id,
                    f"score_drop:{hs_id}",
                    order=(hs_id,),
                    context={
                        "score": matching.fmt_score(score),
                        "band": band or "",
                        "delta": matching.fmt_delta(score - window_max),
                    },
                )
            )
    elif playbook.trigger == t.RENEWAL_WITHIN:
        rows = accounts.filter(
            matching.renewal_band_q(playbook=playbook),
            renewal_date__gte=today,
            renewal_date__lte=today + dt.timedelta(days=playbook.renewal_days),
        )
        rows = rows.exclude(
            Exists(
                PlaybookRun.objects.filter(
                    playbook=playbook,
                    account_id=OuterRef("pk"),
                    event_key=Concat(
                        Value("renewal:"), Cast(OuterRef("renewal_date"), CharField())
                    ),
                )
            )
        )
        if playbook.cooldown_days:
            rows = rows.exclude(_cooling(playbook, now, "pk"))
        for account_id, renewal, score, band in rows.values_list(
            "pk", "renewal_date", "health__score", "health__band__name"
        ):
            candidates.append(
                Candidate(
                    playbook.pk,
                    account_id,
                    f"renewal:{renewal.isoformat()}",
                    order=(account_id,),
                    context={"score": matching.fmt_score(score), "band": band or ""},
                )
            )
    elif playbook.trigger == t.METRIC_THRESHOLD:
        newest_first = [F("timestamp").desc(), F("id").desc()]
        recent = Signal.objects.filter(
            metric_id=playbook.metric_id, created_at__gte=now - SIGNAL_LOOKBACK
        ).values("account_id")
        rows = (
            Signal.objects.filter(
                metric_id=playbook.metric_id,
                account_id__in=recent,
                account__in=accounts,
                timestamp__lte=now,
            )
            .annotate(
                rank=Window(RowNumber(), partition_by=[F("account_id")], order_by=newest_first),
                previous=Window(
                    Lead("value"), partition_by=[F("account_id")], order_by=newest_first
                ),
            )
            .filter(rank=1)
            .values_list("pk", "account_id", "value", "previous")
        )
        crossing = [
            (pk, account_id, value, previous)
            for pk, account_id, value, previous in rows
            if matching.crossed(playbook=playbook, value=value, previous=previous)
        ]
        health = dict(
            (a, (s, b))
            for a, s, b in AccountHealth.objects.filter(
                account_id__in=[row[1] for row in crossing]
            ).values_list("account_id", "score", "band__name")
        )
        for pk, account_id, value, previous in crossing:
            score, band = health.get(account_id, (None, None))
            candidates.append(
                Candidate(
                    playbook.pk,
                    account_id,
                    f"signal:{pk}",
                    order=(pk,),
                    context={
                        "score": matching.fmt_score(score),
                        "band": band or "",
                        "delta": matching.fmt_delta(None if previous is None else value - previous),
                    },
                )
            )
    elif playbook.trigger == t.ACCOUNT_CREATED:
        rows = accounts.filter(created_at__gte=now - CREATED_LOOKBACK, created_at__lte=now).exclude(
            Exists(
                PlaybookRun.objects.filter(
                    playbook=playbook,
                    account_id=OuterRef("pk"),
                    event_key=Concat(Value("account_created:"), Cast(OuterRef("pk"), CharField())),
                )
            )
        )
        for account_id in rows.values_list("pk", flat=True):
            candidates.append(
                Candidate(
                    playbook.pk, account_id, f"account_created:{account_id}", order=(account_id,)
                )
            )
    return candidates


STATE_TRIGGERS = (
    Playbook.Trigger.SCORE_BELOW,
    Playbook.Trigger.SCORE_DROPPED,
    Playbook.Trigger.RENEWAL_WITHIN,
    Playbook.Trigger.METRIC_THRESHOLD,
    Playbook.Trigger.ACCOUNT_CREATED,
)


def state_triggers_evaluate(
    *, now: dt.datetime, playbook_ids: Iterable[int] | None = None, dispatch: bool = True
) -> TriggerResult:
    """Fire every active state-triggered playbook whose state holds now.

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
        candidates = _state_candidates(playbook, now=now)
        result.events += len(candidates)
        for start in range(0, len(candidates), STATE_BATCH):
            with transaction.atomic():
                runs, due = _runs_create(
                    candidates=candidates[start : start + STATE_BATCH],
                    playbooks={playbook.pk: playbook},
                    now=now,
                )
                if dispatch:
                    send_on_commit(task_name="run_step", ids=due)
            result.runs += runs
            result.step_runs_due += due
    return result
