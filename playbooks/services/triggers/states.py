"""States checked periodically, each found set-based by one small function per trigger
(``STATE_CANDIDATES``): score below X, a score drop made of small steps, renewal within N
days, a metric crossing a threshold, a new account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import (
    CharField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Cast, Concat, Lead, RowNumber

from accounts.models import Account
from accounts.selectors import customers_q
from config.tasking import each, send_on_commit
from contacts.models import Contact
from playbooks import matching
from playbooks.models import Playbook, PlaybookRun
from playbooks.services.triggers.events import window_max_subquery
from playbooks.services.triggers.runs import Candidate, TriggerResult, active_playbooks, runs_create
from renewals.models import RenewalOutcome
from scoring.formatting import format_delta, format_score
from scoring.models import AccountHealth, ScoreEvent, Signal

STATE_BATCH = 500
# Metric thresholds look at accounts with a signal of the metric stored this recently.
SIGNAL_LOOKBACK = dt.timedelta(days=2)
# "Account created" fires for accounts created this recently.
CREATED_LOOKBACK = dt.timedelta(days=1)
# "A contact left" fires for contacts marked left this recently.
CONTACT_LEFT_LOOKBACK = dt.timedelta(days=7)
# "A renewal outcome was recorded" fires for outcomes recorded this recently.
OUTCOME_LOOKBACK = dt.timedelta(days=7)


def _run_exists(playbook: Playbook, prefix: str, ref: str) -> Exists:
    """A run of ``playbook`` for the outer account whose key is ``prefix`` + the outer
    ``ref`` column: cheap exclusion of events that fired already (the unique constraint
    and ``runs_create`` remain the guarantee)."""
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
    accounts: QuerySet[Account]
    since: dt.datetime | None

    @property
    def today(self) -> dt.date:
        return matching.local_today(self.now)


def _healths(q: StateQuery) -> QuerySet[AccountHealth]:
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
        .filter(
            score__lt=matching.trigger_setting(
                q.playbook, "score_threshold", q.playbook.score_threshold
            )
        )
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
    within_days = matching.trigger_setting(playbook, "within_days", playbook.within_days)
    drop_points = matching.trigger_setting(playbook, "drop_points", playbook.drop_points)
    rows = (
        _healths(q)
        .filter(computed_at__gte=q.now - dt.timedelta(days=within_days))
        .exclude(
            Exists(
                ScoreEvent.objects.filter(
                    health_score_id=OuterRef("health_score_id"),
                    kind=ScoreEvent.Kind.SCORE_DROPPED,
                )
            )
        )
        .exclude(_run_exists(playbook, "score_drop:", "health_score_id"))
        .annotate(window_max=Subquery(window_max_subquery(within_days)))
        .filter(window_max__gte=F("score") + drop_points)
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
    window = dt.timedelta(
        days=matching.trigger_setting(playbook, "renewal_days", playbook.renewal_days)
    )
    rows = q.accounts.filter(
        matching.renewal_band_q(playbook=playbook),
        renewal_date__gte=q.today,
        renewal_date__lte=q.today + window,
    )
    if q.since is not None:
        # The renewal came into the window on renewal date − N days: from enabling on.
        rows = rows.filter(renewal_date__gte=matching.local_today(q.since) + window)
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
        if renewal is not None  # always: the window leaves out accounts without a date
    ]


def _metric_threshold(q: StateQuery) -> list[Candidate]:
    playbook = q.playbook
    metric_id = matching.trigger_setting(playbook, "metric", playbook.metric_id)
    newest_first = [F("timestamp").desc(), F("id").desc()]
    stored_since = q.now - SIGNAL_LOOKBACK
    if q.since is not None and q.since > stored_since:
        stored_since = q.since
    recent = Signal.objects.filter(metric_id=metric_id, created_at__gte=stored_since).values(
        "account_id"
    )
    rows = (
        Signal.objects.filter(
            metric_id=metric_id,
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


def _contact_left(q: StateQuery) -> list[Candidate]:
    """Contacts of the playbook's role marked as having left (``contact_mark_left``) in
    the last ``CONTACT_LEFT_LOOKBACK`` (or since the playbook was switched on), once per
    contact."""
    earliest = q.now - CONTACT_LEFT_LOOKBACK
    if q.since is not None and q.since > earliest:
        earliest = q.since
    rows = (
        Contact.objects.filter(
            status=Contact.Status.LEFT,
            role_id=q.playbook.contact_role_id,
            account__in=q.accounts,
            updated_at__gte=earliest,
            updated_at__lte=q.now,
        )
        .exclude(_run_exists(q.playbook, "contact_left:", "pk"))
        .values_list("pk", "account_id", "account__health__level")
    )
    return [
        Candidate(q.playbook.pk, account_id, f"contact_left:{pk}", order=(pk,), level=level or "")
        for pk, account_id, level in rows
    ]


def _outcome_recorded(q: StateQuery) -> list[Candidate]:
    """Renewal outcomes (of the playbook's kinds, or any) recorded in the last
    ``OUTCOME_LOOKBACK`` (or since the playbook was switched on), once per outcome."""
    earliest = q.now - OUTCOME_LOOKBACK
    if q.since is not None and q.since > earliest:
        earliest = q.since
    rows = RenewalOutcome.objects.filter(
        account__in=q.accounts, recorded_at__gte=earliest, recorded_at__lte=q.now
    )
    if kinds := q.playbook.outcome_kind_list:
        rows = rows.filter(kind__in=kinds)
    found = rows.exclude(_run_exists(q.playbook, "outcome:", "pk")).values_list(
        "pk", "account_id", "account__health__level"
    )
    return [
        Candidate(q.playbook.pk, account_id, f"outcome:{pk}", order=(pk,), level=level or "")
        for pk, account_id, level in found
    ]


STATE_CANDIDATES: dict[str, Callable[[StateQuery], list[Candidate]]] = {
    Playbook.Trigger.SCORE_BELOW: _score_below,
    Playbook.Trigger.SCORE_DROPPED: _score_dropped,
    Playbook.Trigger.RENEWAL_WITHIN: _renewal_within,
    Playbook.Trigger.METRIC_THRESHOLD: _metric_threshold,
    Playbook.Trigger.ACCOUNT_CREATED: _account_created,
    Playbook.Trigger.CONTACT_LEFT: _contact_left,
    Playbook.Trigger.OUTCOME_RECORDED: _outcome_recorded,
}
STATE_TRIGGERS = tuple(STATE_CANDIDATES)


def state_candidates(
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


def state_runs_create(
    playbook: Playbook, candidates: list[Candidate], *, now: dt.datetime, dispatch: bool
) -> TriggerResult:
    result = TriggerResult(events=len(candidates))
    for start in range(0, len(candidates), STATE_BATCH):
        with transaction.atomic():
            runs, due = runs_create(
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
        candidates = state_candidates(playbook, now=now, since=playbook.enabled_at)
        result.add(state_runs_create(playbook, candidates, now=now, dispatch=dispatch))
    return result


# --- Backfill ------------------------------------------------------------------------------
