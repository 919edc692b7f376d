"""Did the playbook work? Its runs over a period, what became of their tasks, and whether
the accounts it acted on recovered — against its hold-out.

A playbook with a hold-out share holds that share of the accounts out: their runs are
recorded as *held out* (no tasks, no messages), the accounts chosen by a hash of the
playbook and the account. The two groups of runs differ only in whether the playbook
acted, so the difference of their outcome
rates is the playbook's effect, shown with a 95 % confidence interval (Newcombe's hybrid
score interval for a difference of two proportions, built from Wilson intervals: sound
for small groups and rates near 0 or 1).

Outcomes of a run, counted from when it was made (when the playbook acted, or held the
run out: the moment the two groups part) over ``days``:

- *recovered*: the account's confirmed band reached a better risk level than the run's;
- *retained*: the account had not churned by the end of those days.

Only runs whose ``days`` have passed are counted in the rates ("mature" runs); the
others are listed as too recent. Only runs of accounts that could have been held out
are compared (``PlaybookRun.in_experiment``: a playbook may hold out only accounts up to
an ARR, so that its largest accounts are always acted on). One query for the runs and their outcomes, one for the
tasks, whatever the number of runs.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field

from django.db.models import Case, Exists, F, OuterRef, Value, When

from accounts.models import RiskLevel, levels_better_than
from accounts.selectors import is_customer
from playbooks.models import Playbook, PlaybookRun, Task
from scoring.models import HealthScore

Z_95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0–1)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def difference_interval(
    a_successes: int, a_n: int, b_successes: int, b_n: int
) -> tuple[float, float, float] | None:
    """The difference of two proportions (a − b) and its 95 % interval (Newcombe)."""
    if not a_n or not b_n:
        return None
    p1, p2 = a_successes / a_n, b_successes / b_n
    l1, u1 = wilson(a_successes, a_n)
    l2, u2 = wilson(b_successes, b_n)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (d, lower, upper)


@dataclass(frozen=True)
class Arm:
    """One group of runs (acted on, or held out) and its outcomes."""

    runs: int
    mature: int
    recovered: int
    retained: int

    @property
    def recovered_rate(self) -> float | None:
        return self.recovered / self.mature if self.mature else None

    @property
    def retained_rate(self) -> float | None:
        return self.retained / self.mature if self.mature else None


@dataclass(frozen=True)
class Effect:
    """Acted-on rate minus held-out rate, with its 95 % interval, in points (0–1)."""

    difference: float
    lower: float
    upper: float

    @property
    def clear(self) -> bool:
        """The interval leaves out zero: a difference the hold-out says is real."""
        return self.lower > 0 or self.upper < 0


@dataclass
class Effectiveness:
    playbook: Playbook
    since: dt.datetime
    until: dt.datetime
    days: int
    acted: Arm
    held_out: Arm
    skipped: int
    # Runs acted on that could not have been held out (no hold-out, or above its ARR
    # limit): counted in the tasks, not in the comparison.
    outside: int
    tasks: dict[str, int] = field(default_factory=dict)
    median_days_to_done: float | None = None
    recovered_effect: Effect | None = None
    retained_effect: Effect | None = None

    @property
    def runs(self) -> int:
        return self.acted.runs + self.held_out.runs + self.outside


def _recovered_within(days: int) -> Case:
    """Whether the run's account reached a level better than the run's within ``days``
    after the run's start (a subquery per level, chosen by the run's level)."""
    whens = []
    for level in RiskLevel.values:
        better = levels_better_than(level)
        if not better:
            continue
        later = HealthScore.objects.filter(
            account_id=OuterRef("account_id"),
            computed_at__gt=OuterRef("start"),
            computed_at__lte=OuterRef("start") + dt.timedelta(days=days),
            confirmed_band__level__in=better,
        )
        whens.append(When(level=level, then=Exists(later)))
    return Case(*whens, default=Value(False))


def playbook_effectiveness(
    *,
    playbook: Playbook,
    since: dt.datetime,
    until: dt.datetime,
    days: int,
    now: dt.datetime,
) -> Effectiveness:
    """The playbook's runs made in [since, until), their tasks, and their outcomes
    ``days`` later, acted on against held out (see the module's docstring)."""
    in_period = (
        PlaybookRun.objects.filter(playbook=playbook)
        .annotate(start=F("created_at"))
        .filter(start__gte=since, start__lt=until)
    )
    runs = list(
        in_period.annotate(recovered=_recovered_within(days)).values_list(
            "pk", "status", "start", "recovered", "account__churned_at", "in_experiment"
        )
    )
    groups: dict[str, list] = {"acted": [], "held_out": []}
    skipped = outside = 0
    for _, status, start, recovered, churned_at, in_experiment in runs:
        if status == PlaybookRun.Status.SKIPPED:
            skipped += 1
            continue
        if not in_experiment:
            # An account that could not have been held out (above the hold-out's ARR
            # limit) has no counterpart in the other group.
            outside += 1
            continue
        group = "held_out" if status == PlaybookRun.Status.HELD_OUT else "acted"
        groups[group].append((start, recovered, churned_at))

    def arm(rows) -> Arm:
        mature = [(s, r, c) for s, r, c in rows if s + dt.timedelta(days=days) <= now]
        retained = sum(
            1
            for s, _, churned_at in mature
            if is_customer(churned_at, on=(s + dt.timedelta(days=days)).date())
        )
        return Arm(len(rows), len(mature), sum(1 for _, r, _ in mature if r), retained)

    acted, held = arm(groups["acted"]), arm(groups["held_out"])
    report = Effectiveness(
        playbook=playbook,
        since=since,
        until=until,
        days=days,
        acted=acted,
        held_out=held,
        skipped=skipped,
        outside=outside,
    )
    for name, a, b in (
        ("recovered_effect", acted.recovered, held.recovered),
        ("retained_effect", acted.retained, held.retained),
    ):
        interval = difference_interval(a, acted.mature, b, held.mature)
        if interval is not None:
            setattr(report, name, Effect(*interval))

    acted_runs = in_period.exclude(status__in=PlaybookRun.QUIET).values("pk")
    tasks = list(
        Task.objects.filter(origin_step_run__run__in=acted_runs).values_list(
            "status", "created_at", "completed_at"
        )
    )
    report.tasks = {status: 0 for status in Task.Status.values}
    for status, _, _ in tasks:
        report.tasks[status] += 1
    report.tasks["total"] = len(tasks)
    durations = [
        (completed - created).total_seconds() / 86400
        for status, created, completed in tasks
        if status == Task.Status.DONE and completed is not None
    ]
    if durations:
        report.median_days_to_done = statistics.median(durations)
    return report
