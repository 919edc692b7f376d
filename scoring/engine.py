"""The scoring maths, in plain Python: the reference implementation.

No ORM, no I/O: plain values in, plain values out. The nightly recompute runs the same
rules compiled to SQL (``scoring/sql/``); property-based tests hold the two
together. Anything that changes a rule here must change there too.

Rules, exactly:

Roll-ups (signals strictly before ``as_of``; a window of N days is
``as_of - N days <= timestamp < as_of``):
  latest      value of the newest signal (ties: the highest id)
  sum/avg/min/max   over the window; no signal in the window => missing
  count       number of signals in the window (0 when none)
  change_pct  (sum of window - sum of previous window) / |sum of previous window| * 100,
              an empty window counting as 0; missing when the previous sum is missing or 0
  days_since  days (fractional) from the newest signal to ``as_of``; missing when none

Components (``raw`` is the rolled-up value; with missing="default" a missing raw value
is replaced by the stated default before the rule applies):
  linear      (raw - worst) / (best - worst) * 100, clamped to 0..100
  steps       the score of the highest threshold <= raw; 0 below every threshold
  table       the score listed for raw (exact match), else missing
  passthrough raw, clamped to 0..100 in weighted models, as is in points models
  per_unit    raw * points (points models)

Weighted score = sum(component score * weight) / sum(weight of components with a
score): a missing component is left out and the rest re-weighted. Points score = the
sum of the components' points. No component with a score => no score. Completeness =
share of the weight (points models: of the components) whose metric had data.

Bands: the band with the highest lower bound <= score; a band with no lower bound
catches every lower score; no score (or below every bound) => no band.

Flap control (``confirm_band``): the band a score falls in is its *raw* band; the
account's *confirmed* band changes only when

  1. the score is outside the confirmed band by more than the model's exit margin
     (the band runs from its lower bound to the next band's; an account stays while
     lower - margin <= score < upper + margin; open ends never leave), and
  2. the score has been past it on the same side for ``dwell_scorings`` scorings in a
     row (the first one counts as one) and for ``dwell_days`` days since the first one
     (a day counts from 23 hours: a nightly run a little earlier than the night before
     still makes a day; scorings minutes apart never do).

Until then a band change is *pending*: the band the account has reached on every
scoring of the streak (of the raw bands seen, the one nearest the confirmed band: a
recovery that goes through Neutral to Healthy has surely reached Neutral), with the
streak's count and start. When it is confirmed, the account moves to that band (and may
go on from there, with a streak of its own). A scoring inside the confirmed band (within
the margin) clears the pending change; one past the other side starts it again at 1. A
scoring with no score (or one no band covers) changes nothing and clears it. The
first scoring of an account, the first after a scoring with no band, and the first under
another model than the previous scoring (a *re-baseline*) confirm the raw band at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

WEIGHTED = "weighted"
POINTS = "points"


@dataclass(frozen=True)
class ComponentSpec:
    metric: str
    rule: str
    params: Mapping = field(default_factory=dict)
    weight: float = 0.0
    missing: str = "skip"
    default: float | None = None


@dataclass(frozen=True)
class BandSpec:
    name: str
    lower: float | None
    id: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    components: tuple[ComponentSpec, ...]
    bands: tuple[BandSpec, ...] = ()


@dataclass(frozen=True)
class ComponentResult:
    metric: str
    raw: float | None
    score: float | None
    weight: float
    contribution: float | None
    had_data: bool


@dataclass(frozen=True)
class ScoreResult:
    score: float | None
    band: BandSpec | None
    completeness: float
    components: tuple[ComponentResult, ...]


# --- Roll-ups -------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    id: int
    timestamp: dt.datetime
    value: float


def rollup(
    kind: str, window_days: int, observations: Iterable[Observation], as_of: dt.datetime
) -> float | None:
    """Roll one account's observations of one metric up into the value scoring sees."""
    before = [o for o in observations if o.timestamp < as_of]
    if kind == "latest":
        if not before:
            return None
        return max(before, key=lambda o: (o.timestamp, o.id)).value
    if kind == "days_since":
        if not before:
            return None
        newest = max(o.timestamp for o in before)
        return (as_of - newest).total_seconds() / 86400.0
    window = dt.timedelta(days=window_days)
    current = [o.value for o in before if o.timestamp >= as_of - window]
    if kind == "count":
        return float(len(current))
    if kind == "change_pct":
        previous = [o.value for o in before if as_of - 2 * window <= o.timestamp < as_of - window]
        if not previous:
            return None
        previous_sum = _sum(previous)
        if previous_sum == 0:
            return None
        return (_sum(current) - previous_sum) / abs(previous_sum) * 100.0
    if not current:
        return None
    if kind == "sum":
        return _sum(current)
    if kind == "avg":
        return _sum(current) / len(current)
    if kind == "min":
        return min(current)
    if kind == "max":
        return max(current)
    raise ValueError(f"unknown roll-up {kind!r}")


def _sum(values: Sequence[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


# --- Components -----------------------------------------------------------------------


def _clamp(value: float) -> float:
    if value < 0:
        return 0.0
    if value > 100:
        return 100.0
    return value


def component_score(spec: ComponentSpec, raw: float | None, *, kind: str) -> float | None:
    """The 0–100 score (weighted) or the points (points models) for one raw value."""
    if raw is None:
        return None
    params = spec.params
    if spec.rule == "linear":
        worst, best = float(params["worst"]), float(params["best"])
        return _clamp((raw - worst) / (best - worst) * 100.0)
    if spec.rule == "steps":
        result = 0.0
        for threshold, score in sorted(params["steps"], key=lambda step: float(step[0])):
            if raw >= float(threshold):
                result = float(score)
        return result
    if spec.rule == "table":
        for key, score in params["table"].items():
            if float(key) == raw:
                return float(score)
        return None
    if spec.rule == "passthrough":
        return _clamp(raw) if kind == WEIGHTED else raw
    if spec.rule == "per_unit":
        return raw * float(params["points"])
    raise ValueError(f"unknown rule {spec.rule!r}")


# --- Scores and bands -------------------------------------------------------------------


def band_for(bands: Iterable[BandSpec], score: float | None) -> BandSpec | None:
    if score is None:
        return None
    best: BandSpec | None = None
    best_lower = 0.0
    open_below: BandSpec | None = None
    for band in bands:
        if band.lower is None:
            open_below = band
        elif score >= band.lower and (best is None or band.lower > best_lower):
            best, best_lower = band, band.lower
    return best or open_below


def score_account(model: ModelSpec, values: Mapping[str, float | None]) -> ScoreResult:
    """Score one account from its rolled-up metric values (``metric key -> value``)."""
    parts: list[tuple[ComponentSpec, float | None, float | None, bool]] = []
    for spec in model.components:
        raw = values.get(spec.metric)
        had_data = raw is not None
        if raw is None and spec.missing == "default":
            raw = spec.default
        score = component_score(spec, raw, kind=model.kind)
        parts.append((spec, raw, score, had_data and score is not None))

    present = [(spec, score) for spec, _, score, _ in parts if score is not None]
    if model.kind == WEIGHTED:
        total_weight = _sum([spec.weight for spec in model.components])
        present_weight = _sum([spec.weight for spec, _ in present])
        weighted = 0.0
        for spec, score in present:
            weighted += score * spec.weight
        total = weighted / present_weight if present and present_weight else None
        data_weight = _sum([spec.weight for spec, _, _, had in parts if had])
        completeness = data_weight / total_weight if total_weight else 0.0
    else:
        total = None
        if present:
            total = 0.0
            for _, score in present:
                total += score
        count = len(model.components)
        completeness = sum(1 for *_, had in parts if had) / count if count else 0.0

    results = []
    for spec, raw, score, had in parts:
        if score is None or total is None:
            contribution = None
        elif model.kind == WEIGHTED:
            contribution = score * spec.weight / present_weight
        else:
            contribution = score
        results.append(ComponentResult(spec.metric, raw, score, spec.weight, contribution, had))
    return ScoreResult(total, band_for(model.bands, total), completeness, tuple(results))


# --- Flap control -------------------------------------------------------------------------


# A day of dwell is reached after this much less than 24 hours (see confirm_band).
DWELL_DAY_SLACK = dt.timedelta(hours=1)


def dwell_reached_by(at: dt.datetime, dwell_days: int) -> dt.datetime:
    """The latest start of a streak that has dwelt ``dwell_days`` days at ``at``."""
    if not dwell_days:
        return at
    return at - (dt.timedelta(days=dwell_days) - DWELL_DAY_SLACK)


@dataclass(frozen=True)
class FlapRules:
    exit_margin: float = 0.0
    dwell_scorings: int = 1
    dwell_days: int = 0


@dataclass(frozen=True)
class BandState:
    """Where an account stands after a scoring (ids of bands; None for none)."""

    confirmed: int | None
    pending: int | None = None
    count: int = 0
    since: dt.datetime | None = None
    rebaseline: bool = False


def band_ranks(bands: Iterable[BandSpec]) -> dict[int | None, int]:
    """Each band's place from the bottom (0: open below or lowest)."""
    ordered = sorted(bands, key=lambda b: (b.lower is not None, b.lower or 0.0))
    return {band.id: rank for rank, band in enumerate(ordered)}


def band_bounds(bands: Sequence[BandSpec]) -> dict[int | None, tuple[float | None, float | None]]:
    """Each band's (lower, upper) by id: upper is the next band's lower (None: open).
    ``bands`` is read twice, hence a sequence rather than any iterable."""
    bounded = sorted(((b.lower, b) for b in bands if b.lower is not None), key=lambda pair: pair[0])
    bounds: dict[int | None, tuple[float | None, float | None]] = {}
    for band in bands:
        if band.lower is None:
            upper = bounded[0][0] if bounded else None
            bounds[band.id] = (None, upper)
    for i, (lower, band) in enumerate(bounded):
        upper = bounded[i + 1][0] if i + 1 < len(bounded) else None
        bounds[band.id] = (lower, upper)
    return bounds


def within_band(bounds: tuple[float | None, float | None], score: float, margin: float) -> bool:
    lower, upper = bounds
    return (lower is None or score >= lower - margin) and (upper is None or score < upper + margin)


def confirm_band(
    *,
    bands: Sequence[BandSpec],
    rules: FlapRules,
    previous: BandState | None,
    same_model: bool,
    score: float | None,
    raw: int | None,
    at: dt.datetime,
) -> BandState:
    """The account's band state after a scoring with ``score`` in raw band ``raw`` at
    ``at``, given the state after its previous scoring (None: the first)."""
    if previous is None or previous.confirmed is None or not same_model:
        return BandState(raw, rebaseline=previous is not None and not same_model)
    if score is None or raw is None:
        return BandState(previous.confirmed)
    bounds = band_bounds(bands)
    current = bounds.get(previous.confirmed)
    if current is not None and within_band(current, score, rules.exit_margin):
        return BandState(previous.confirmed)
    ranks = band_ranks(bands)
    base = ranks[previous.confirmed]

    def side(band: int | None) -> int:
        return (ranks[band] > base) - (ranks[band] < base)

    if previous.pending is not None and side(previous.pending) == side(raw):
        count, since = previous.count + 1, previous.since
        nearer = abs(ranks[previous.pending] - base) <= abs(ranks[raw] - base)
        pending = previous.pending if nearer else raw
    else:
        count, since, pending = 1, at, raw
    # A pending band always has its start; were one missing, the streak would not settle,
    # as in SQL, where NULL <= x is not true.
    settled = since is not None and since <= dwell_reached_by(at, rules.dwell_days)
    if count >= rules.dwell_scorings and settled:
        return BandState(pending)
    return BandState(previous.confirmed, pending, count, since)
