"""From candidates to runs: which playbook would fire for which account because of which
event (``Candidate``), the hold-out, and the runs and first step runs inserted under a
lock on the accounts, cooldowns applied (``runs_create``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import (
    Q,
)

from accounts.models import Account
from playbooks.models import Playbook, PlaybookRun, PlaybookStepRun


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


def runs_plan(
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


def runs_create(
    *, candidates: list[Candidate], playbooks: dict[int, Playbook], now: dt.datetime
) -> tuple[int, list[int]]:
    """Insert the runs ``candidates`` call for; returns (runs created, step runs due now).

    Must run inside a transaction. Steps:

    1. lock the candidates' accounts (in id order, so two processors never deadlock;
       ``FOR NO KEY UPDATE`` so the recompute's inserts that reference them don't wait);
    2. plan the runs (``runs_plan``: events that already fired and cooldowns left out);
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
    new_runs = runs_plan(candidates=candidates, playbooks=playbooks, now=now)
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
