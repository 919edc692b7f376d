"""Backtests: how well a model version told apart, at past dates, the accounts that
churned afterwards from those that stayed (weights fitted to that history are in
``scoring.analysis.suggest``).

Scores are computed as of each date (``scoring.analysis.asof``: the recompute's own SQL with time
as a parameter, nothing written).

A backtest, per as-of date ``D`` (``backtest_run``):

1. the population: accounts that were customers on ``D`` (``contract_start`` empty or
   on/before ``D``, ``churned_at`` empty or after ``D``) matching the model's segment
   and plan (and ``segment`` when given); lifecycle stages are not kept over time, so a
   stage filter is not applied (the report says so);
2. each scored as of ``D`` with the chosen version, in chunks of ``CHUNK`` ids;
3. labels: churned within ``horizon_days`` after ``D`` (``D < churned_at <= D + h``), or,
   with ``labels`` another registered source (``LABEL_SOURCES``: renewals registers
   "outcomes", a churn or downgrade outcome due within the horizon), its accounts;
4. the statistics (``scoring.analysis.stats``): ROC AUC of risk = lower score, churn rate and
   accounts per band, the lift of the worst band, deciles, and the AUC of each
   component's score, so an admin sees which metrics carry signal.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import customers_q, is_customer
from scoring.analysis import stats
from scoring.analysis.asof import as_of_moment, compacted_dates
from scoring.analysis.preview import score_rows_as_of
from scoring.errors import ScoringError
from scoring.models import Band, ScoringModel, Signal, look_back_days

CHUNK = 2000
MIN_CLASS = 5  # churned and staying accounts needed for a meaningful AUC
DEFAULT_AGES = (90, 60, 30)  # default as-of dates: this many days before today
DEFAULT_HORIZON = 90
NO_BAND = "No band"

# Told (accounts done, accounts in all) as a long analysis goes: scoring.analysis.jobs.
Progress = Callable[[int, int], None]


# --- Backtests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One account scored as of one date, and whether it churned within the horizon."""

    account_id: int
    date_index: int
    score: float
    band_id: int | None
    label: int
    breakdown: list


@dataclass(frozen=True)
class BandRow:
    name: str
    color: str | None
    lower: float | None
    accounts: int
    churned: int
    rate: float | None
    lift: float | None


@dataclass(frozen=True)
class ComponentAuc:
    label: str
    metric_key: str
    weight: float
    with_data: int
    auc: float | None


@dataclass
class BacktestPoint:
    """The backtest at one as-of date."""

    date: dt.date
    horizon_days: int
    customers: int = 0
    scored: int = 0
    churned: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    auc: float | None = None
    churn_rate: float | None = None
    bands: list[BandRow] = field(default_factory=list)
    worst_band: BandRow | None = None
    deciles: list[stats.Decile] = field(default_factory=list)
    components: list[ComponentAuc] = field(default_factory=list)
    roc: list[tuple[float, float]] = field(default_factory=list)
    # Components whose roll-up window reaches back before the first signals.
    partial_components: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def stayed(self) -> int:
        return self.scored - self.churned


@dataclass
class BacktestReport:
    model: ScoringModel
    horizon_days: int
    segment: str
    points: list[BacktestPoint]
    notes: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    component_labels: list[str] = field(default_factory=list)

    @property
    def usable(self) -> list[BacktestPoint]:
        return [p for p in self.points if p.ok]


# Where a backtest's positives come from besides the churn date: sources registered by the
# apps above scoring (scoring imports none of them), each a label and a function
# (D, D + horizon) -> the ids of the accounts lost in that span.
CHURN_LABELS = "churn"
LABEL_SOURCES: dict[str, tuple[str, Callable[[dt.date, dt.date], set[int]]]] = {}


def label_choices() -> list[tuple[str, str]]:
    return [(CHURN_LABELS, "Churned (churn date)")] + [
        (key, label) for key, (label, _) in LABEL_SOURCES.items()
    ]


def default_dates(*, today: dt.date | None = None) -> list[dt.date]:
    today = today or timezone.localdate()
    return [today - dt.timedelta(days=age) for age in DEFAULT_AGES]


def backtest_population(
    *, model: ScoringModel, day: dt.date, segment: str = ""
) -> QuerySet[Account]:
    """The accounts that were customers on ``day`` and that ``model`` applies to."""
    accounts = Account.objects.filter(
        Q(contract_start__isnull=True) | Q(contract_start__lte=day),
        customers_q(on=day),
    )
    if model.segment:
        accounts = accounts.filter(segment=model.segment)
    if model.plan:
        accounts = accounts.filter(plan=model.plan)
    if segment:
        accounts = accounts.filter(segment=segment)
    return accounts


def backtest_check(
    *,
    dates: list[dt.date] | None,
    horizon_days: int,
    segment: str,
    today: dt.date,
    labels: str = CHURN_LABELS,
) -> None:
    """The parameters of a backtest, or a ScoringError that says which is wrong."""
    if labels != CHURN_LABELS and labels not in LABEL_SOURCES:
        keys = ", ".join(key for key, _ in label_choices())
        raise ScoringError(f"Unknown labels {labels!r}; choose one of {keys}.")
    if horizon_days < 1:
        raise ScoringError("The horizon must be at least 1 day.")
    if segment and segment not in Account.Segment.values:
        raise ScoringError(
            f"Unknown segment {segment!r}; choose one of {', '.join(Account.Segment.values)}."
        )
    future = sorted(d for d in set(dates or []) if d >= today)
    if future:
        raise ScoringError(
            f"As-of dates must be in the past: {', '.join(f'{d:%Y-%m-%d}' for d in future)} "
            "is not before today."
        )


def backtest_run(
    *,
    model: ScoringModel,
    dates: list[dt.date] | None = None,
    horizon_days: int = DEFAULT_HORIZON,
    segment: str = "",
    today: dt.date | None = None,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
    keep_samples: bool = True,
    labels: str = CHURN_LABELS,
) -> BacktestReport:
    """Score the customers of each date as of that date and compare with who churned.

    ``progress(done, total)`` is called before the first chunk and after each one, with
    the accounts scored so far of all the dates' customers. ``keep_samples=False``
    leaves ``report.samples`` empty (only a fit of weights needs them: one per account
    and date)."""
    today = today or timezone.localdate()
    backtest_check(
        dates=dates, horizon_days=horizon_days, segment=segment, today=today, labels=labels
    )
    lost_in = LABEL_SOURCES[labels][1] if labels != CHURN_LABELS else None
    chosen = bool(dates)
    dates = sorted(set(dates or default_dates(today=today)))
    lost, lost_message = compacted_dates(model=model, dates=dates)
    if lost and (chosen or len(lost) == len(dates)):
        raise ScoringError(lost_message)
    components = list(model.components.select_related("metric").order_by("position", "id"))
    report = BacktestReport(
        model=model,
        horizon_days=horizon_days,
        segment=segment,
        points=[],
        component_labels=[c.display_label for c in components],
    )
    if lost_in is not None:
        report.notes.append(
            f"Labels: {LABEL_SOURCES[labels][0]} within the horizon, not the churn date."
        )
    if model.lifecycle_stage:
        report.notes.append(
            f"The model applies to the {model.get_lifecycle_stage_display()} stage only, but "
            "stages are not kept over time: every stage was included."
        )
    if lost:
        # Default dates only: those whose signals were removed are left out, and said so.
        report.notes.append(f"Left out: {lost_message}")
        dates = [d for d in dates if d not in lost]
    bands = sorted(model.bands.all(), key=lambda b: (b.lower is not None, b.lower or 0.0))
    metric_ids = [c.metric_id for c in components]
    needs = [history_needed(metric=c) for c in components]
    window = max([c.window_days for c, need in zip(components, needs, strict=True) if need] or [0])
    covered = functools.cache(
        lambda day, days: _history_covers(metric_ids=metric_ids, day=day, days=days)
    )
    short = {d for d in dates if not covered(d, window)}
    if not chosen and short and len(short) < len(dates):
        # Default dates only: skip those before the history is long enough to judge.
        report.notes.append(
            f"Left out {', '.join(f'{d:%Y-%m-%d}' for d in sorted(short))}: less than "
            f"{window} days of signals before {'it' if len(short) == 1 else 'them'}, the "
            "longest roll-up window of the model."
        )
        dates = [d for d in dates if d not in short]
    done, total = 0, 0
    if progress:
        total = sum(
            backtest_population(model=model, day=day, segment=segment).count() for day in dates
        )
        progress(done, total)
    for index, day in enumerate(dates):
        point = BacktestPoint(date=day, horizon_days=horizon_days)
        report.points.append(point)
        as_of = as_of_moment(day)
        end = day + dt.timedelta(days=horizon_days)
        if end >= today:
            point.notes.append(
                f"The horizon runs to {end:%Y-%m-%d}, past today: accounts that leave later "
                "count as staying."
            )
        population = dict(
            backtest_population(model=model, day=day, segment=segment).values_list(
                "id", "churned_at"
            )
        )
        point.customers = len(population)
        if not population:
            point.problems.append(f"No accounts were customers on {day:%Y-%m-%d}.")
            continue
        ids = sorted(population)
        positives = lost_in(day, end) if lost_in is not None else None
        samples: list[Sample] = []
        for start in range(0, len(ids), chunk_size):
            chunk = ids[start : start + chunk_size]
            for account_id, score, band_id, _, breakdown in score_rows_as_of(
                model=model, account_ids=chunk, as_of=as_of
            ):
                if score is None:
                    continue
                if positives is not None:
                    label = int(account_id in positives)
                else:
                    label = 0 if is_customer(population[account_id], on=end) else 1
                samples.append(Sample(account_id, index, score, band_id, label, breakdown))
            done += len(chunk)
            if progress:
                # Customers who joined since the count: the total follows what was scored.
                progress(done, max(done, total))
        point.scored = len(samples)
        point.churned = sum(s.label for s in samples)
        if keep_samples:
            report.samples.extend(samples)
        if not samples:
            point.problems.append(_history_problem(metric_ids=metric_ids, day=day, as_of=as_of))
            continue
        partial = [i for i, c in enumerate(components) if needs[i] and not covered(day, needs[i])]
        point.partial_components = partial
        if partial:
            point.notes.append(
                "Too little history before this date for the whole roll-up window of "
                + ", ".join(f"{components[i].display_label} ({needs[i]} days)" for i in partial)
                + ": their values are partial here, and suggestions leave them out."
            )
        if point.scored < point.customers:
            point.notes.append(
                f"{point.customers - point.scored} of {point.customers} customers had no data "
                "for any component and no score: they are left out."
            )
        if point.churned < MIN_CLASS or point.stayed < MIN_CLASS:
            point.problems.append(
                f"Too few accounts to judge: {point.churned} churned within {horizon_days} days "
                f"of {day:%Y-%m-%d} and {point.stayed} stayed; at least {MIN_CLASS} of each "
                "are needed. Choose another date or a longer horizon."
            )
        _fill_point(point, samples=samples, bands=bands, components=components)
    return report


def history_needed(*, metric) -> int:
    """Days of signals a roll-up (a metric's, or a component's own) looks back over."""
    return look_back_days(metric.rollup, metric.window_days)


def _history_covers(*, metric_ids: list[int], day: dt.date, days: int) -> bool:
    start = as_of_moment(day) - dt.timedelta(days=days)
    return Signal.objects.filter(metric_id__in=metric_ids, timestamp__lt=start).exists()


def _history_problem(*, metric_ids: list[int], day: dt.date, as_of: dt.datetime) -> str:
    if not metric_ids:
        return "The model has no components: nothing to score."
    earliest = Signal.objects.filter(metric_id__in=metric_ids).aggregate(first=Min("timestamp"))[
        "first"
    ]
    if earliest is None:
        return "There are no signals for this model's metrics at all: import some history first."
    if earliest >= as_of:
        return (
            f"Too little history: no signals before {day:%Y-%m-%d} (the earliest is on "
            f"{timezone.localtime(earliest):%Y-%m-%d}). Choose a later date."
        )
    return f"No customer on {day:%Y-%m-%d} had data for any of the model's components."


def _fill_point(point: BacktestPoint, *, samples: list[Sample], bands: list[Band], components):
    scores = [s.score for s in samples]
    labels = [s.label for s in samples]
    point.churn_rate = stats.churn_rate(labels)
    if point.ok:
        point.auc = stats.roc_auc(scores, labels)
        point.roc = stats.roc_points(scores, labels)
    by_band = stats.group_rates([s.band_id for s in samples], labels)
    rows = []
    for band in bands:
        group = by_band.get(band.pk)
        rows.append(_band_row(band.name, band.color, band.lower, group, point.churn_rate))
    if None in by_band:
        rows.insert(0, _band_row(NO_BAND, None, None, by_band[None], point.churn_rate))
    # Worst first is how an admin reads risk: the lowest band with accounts.
    point.worst_band = next((r for r in rows if r.accounts), None)
    point.bands = list(reversed(rows))
    point.deciles = stats.score_deciles(scores, labels)
    for i, component in enumerate(components):
        pairs = [(s.breakdown[i][1], s.label) for s in samples if s.breakdown[i][1] is not None]
        auc = None
        if pairs:
            auc = stats.roc_auc([p[0] for p in pairs], [p[1] for p in pairs])
        point.components.append(
            ComponentAuc(
                label=component.display_label,
                metric_key=component.metric.key,
                weight=float(component.weight),
                with_data=len(pairs),
                auc=auc if point.ok else None,
            )
        )


def _band_row(name, color, lower, group: stats.GroupRate | None, overall) -> BandRow:
    if group is None:
        return BandRow(name, color, lower, 0, 0, None, None)
    return BandRow(
        name,
        color,
        lower,
        group.accounts,
        group.churned,
        group.rate,
        stats.lift(group.rate, overall),
    )
