"""Weights (and linear thresholds) fitted to churn history: plain values and numpy, no ORM.

``suggest`` turns backtest samples (each account's raw values and component scores at
an as-of date, and whether it churned within the horizon) into a suggested version of a
weighted model, step by step:

1. one feature per component, on a 0–1 scale: for a *linear* component the raw value
   between its 2nd and 98th percentiles (``(raw − p2) / (p98 − p2)``, clamped), so that
   the fit may choose the thresholds and their direction; for any other rule the
   component score / 100 as the model computes it; a missing value is replaced by the
   component's mean;
2. an L2-regularised logistic regression of churn on the features (Newton's method,
   i.e. iteratively reweighted least squares);
3. back to a weighted model: a component's weight is the size of its coefficient in the
   "good" direction (less churn as the score rises), scaled so that weights sum to 100.
   A linear component takes the direction the fit found (worst = the percentile that
   goes with churn, best = the other), so it never loses its signal; any other
   component whose coefficient points the wrong way (more churn as its score rises)
   gets weight 0. A weighted score Σ wᵢ·cᵢ / Σ wᵢ then orders accounts as the fitted
   logistic model does (where no data is missing).

``evaluate`` measures a suggestion out of sample: fitted on some accounts, scored (with
the reference engine, exactly as the recompute would score the suggested version) on
others; ``cross_validate`` repeats it over k folds of accounts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from scoring import engine
from scoring.analysis import stats

L2 = 1.0
LOW_PCT, HIGH_PCT = 2.0, 98.0


class CalibrationError(Exception):
    """The history cannot support a suggestion; the message says why."""


@dataclass(frozen=True)
class Data:
    """Backtest samples, one per (account, as-of date)."""

    raws: list[list[float | None]]  # per sample, per component: the raw value
    scores: list[list[float | None]]  # per sample, per component: the component score
    labels: list[int]
    groups: list[int]  # the account of each sample: folds never split an account
    current: list[float]  # the score the model gave

    def take(self, indices: Sequence[int]) -> Data:
        return Data(
            raws=[self.raws[i] for i in indices],
            scores=[self.scores[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            groups=[self.groups[i] for i in indices],
            current=[self.current[i] for i in indices],
        )


@dataclass(frozen=True)
class ComponentFit:
    spec: engine.ComponentSpec  # the suggested component (weight, rule, params)
    coefficient: float  # fitted log-odds of churn per unit of the feature
    note: str = ""


@dataclass(frozen=True)
class Suggestion:
    kind: str
    components: list[ComponentFit]
    intercept: float

    @property
    def weights(self) -> list[Decimal]:
        return [Decimal(str(c.spec.weight)) for c in self.components]

    def model_spec(self) -> engine.ModelSpec:
        return engine.ModelSpec(kind=self.kind, components=tuple(c.spec for c in self.components))

    def score(self, raws: Sequence[float | None]) -> float | None:
        """The suggested version's score for one account's raw values (the reference
        engine: the recompute computes the same)."""
        spec = self.model_spec()
        values = {c.metric: raw for c, raw in zip(spec.components, raws, strict=True)}
        return engine.score_account(spec, values).score


# --- Logistic regression -----------------------------------------------------------------


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, *, l2: float = L2, max_iter: int = 100
) -> tuple[float, np.ndarray]:
    """Intercept and coefficients maximising the log-likelihood − l2/2·‖coefficients‖²
    (the intercept is not penalised), by Newton's method."""
    n, k = features.shape
    x = np.hstack([np.ones((n, 1)), features])
    y = labels.astype(float)
    beta = np.zeros(k + 1)
    penalty = np.full(k + 1, float(l2))
    penalty[0] = 1e-9  # keeps the Hessian invertible when a class is empty
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -35.0, 35.0)
        p = 1.0 / (1.0 + np.exp(-eta))
        gradient = x.T @ (p - y) + penalty * beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[0]), beta[1:]


# --- Suggestion ---------------------------------------------------------------------------


def _nice(value: float) -> float:
    """Three significant figures: thresholds an admin can read."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = 2 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded


def _features(
    specs: Sequence[engine.ComponentSpec], data: Data
) -> tuple[np.ndarray, list[tuple[float, float] | None]]:
    columns = []
    ranges: list[tuple[float, float] | None] = []
    for i, spec in enumerate(specs):
        raws = [row[i] for row in data.raws]
        present = [r for r in raws if r is not None]
        span = None
        if spec.rule == "linear" and present:
            low, high = np.percentile(present, [LOW_PCT, HIGH_PCT])
            low, high = _nice(float(low)), _nice(float(high))
            if high > low:
                span = (low, high)
        if span is not None:
            low, high = span
            values = [
                None if r is None else min(1.0, max(0.0, (r - low) / (high - low))) for r in raws
            ]
        else:
            scores = [row[i] for row in data.scores]
            values = [None if v is None else v / 100.0 for v in scores]
        known = [v for v in values if v is not None]
        mean = sum(known) / len(known) if known else 0.5
        columns.append([mean if v is None else v for v in values])
        ranges.append(span)
    return np.array(columns, dtype=float).T.reshape(len(data.labels), len(specs)), ranges


def suggest(*, specs: Sequence[engine.ComponentSpec], data: Data, l2: float = L2) -> Suggestion:
    """Fit weights (and linear thresholds) to ``data``; see the module's steps."""
    positives = sum(data.labels)
    if positives == 0 or positives == len(data.labels):
        raise CalibrationError(
            "Fitting needs accounts that churned and accounts that stayed; "
            f"the history has {positives} churned of {len(data.labels)}."
        )
    if not specs:
        raise CalibrationError("The model has no components to weigh.")
    if not any(value is not None for row in data.scores for value in row):
        raise CalibrationError(
            "No component had data at these dates (or only partial roll-up windows, which "
            "are left out): nothing to fit."
        )
    features, ranges = _features(specs, data)
    intercept, coefficients = fit_logistic(features, np.array(data.labels), l2=l2)
    strengths: list[float] = []
    fitted: list[tuple[engine.ComponentSpec, float, str]] = []
    for spec, span, b in zip(specs, ranges, coefficients, strict=True):
        b = float(b)
        if span is not None:
            low, high = span
            # Churn falling as the raw value rises (b < 0): low is worst.
            worst, best = (low, high) if b < 0 else (high, low)
            strengths.append(abs(b))
            note = ""
            if "worst" in spec.params and "best" in spec.params:
                rising = float(spec.params["best"]) > float(spec.params["worst"])
                if rising != (best > worst):
                    note = "direction reversed: " + (
                        "higher values now score better"
                        if best > worst
                        else "lower values now score better"
                    )
            fitted.append((replace(spec, params={"worst": worst, "best": best}), b, note))
        else:
            strengths.append(max(0.0, -b))
            note = "weight 0: a higher score went with more churn" if b > 0 else ""
            fitted.append((spec, b, note))
    weights = _percentages(strengths)
    if sum(weights) == 0:
        raise CalibrationError("No component's score went with less churn: nothing to weigh.")
    return Suggestion(
        kind=engine.WEIGHTED,
        components=[
            ComponentFit(replace(spec, weight=float(w)), b, note)
            for (spec, b, note), w in zip(fitted, weights, strict=True)
        ],
        intercept=intercept,
    )


def _percentages(strengths: list[float]) -> list[Decimal]:
    """Shares of 100 with two decimals that sum to exactly 100 (largest remainders)."""
    total = sum(strengths)
    if total <= 0:
        return [Decimal(0)] * len(strengths)
    cents = [s / total * 10000 for s in strengths]
    floors = [int(Decimal(c).to_integral_value(rounding=ROUND_FLOOR)) for c in cents]
    missing = 10000 - sum(floors)
    order = sorted(range(len(cents)), key=lambda i: cents[i] - floors[i], reverse=True)
    for i in order[:missing]:
        floors[i] += 1
    return [Decimal(f) / 100 for f in floors]


# --- Out of sample --------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    current_auc: float | None
    suggested_auc: float | None
    accounts: int
    churned: int


@dataclass(frozen=True)
class CrossValidation:
    folds: list[Evaluation] = field(default_factory=list)

    @staticmethod
    def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
        if not values:
            return None, None
        mean = sum(values) / len(values)
        sd = (
            math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            if len(values) > 1
            else 0.0
        )
        return mean, sd

    @property
    def current(self) -> tuple[float | None, float | None]:
        return self._mean_sd([f.current_auc for f in self.folds if f.current_auc is not None])

    @property
    def suggested(self) -> tuple[float | None, float | None]:
        return self._mean_sd([f.suggested_auc for f in self.folds if f.suggested_auc is not None])


def evaluate(
    *, specs: Sequence[engine.ComponentSpec], train: Data, test: Data, l2: float = L2
) -> Evaluation:
    """Fit on ``train``; compare the suggested and the current scores on ``test``."""
    suggestion = suggest(specs=specs, data=train, l2=l2)
    scored = [
        (suggestion.score(raws), label) for raws, label in zip(test.raws, test.labels, strict=True)
    ]
    kept = [(s, label) for s, label in scored if s is not None]
    return Evaluation(
        current_auc=stats.roc_auc(test.current, test.labels),
        suggested_auc=stats.roc_auc([s for s, _ in kept], [label for _, label in kept]),
        accounts=len(test.labels),
        churned=sum(test.labels),
    )


def folds(data: Data, *, k: int = 5, seed: int = 0) -> list[list[int]]:
    """Sample indices in ``k`` folds of whole accounts, stratified by whether the account
    ever churned in the samples, shuffled reproducibly."""
    churned: dict[int, int] = {}
    for group, label in zip(data.groups, data.labels, strict=True):
        churned[group] = max(churned.get(group, 0), label)
    rng = random.Random(seed)
    ordered = sorted(churned, key=lambda g: (churned[g], rng.random()))
    fold_of = {g: i % k for i, g in enumerate(ordered)}
    result: list[list[int]] = [[] for _ in range(k)]
    for index, group in enumerate(data.groups):
        result[fold_of[group]].append(index)
    return result


def cross_validate(
    *, specs: Sequence[engine.ComponentSpec], data: Data, k: int = 5, seed: int = 0, l2: float = L2
) -> CrossValidation:
    result = []
    parts = folds(data, k=k, seed=seed)
    for held_out in parts:
        held = set(held_out)
        train = [i for i in range(len(data.labels)) if i not in held]
        result.append(
            evaluate(specs=specs, train=data.take(train), test=data.take(held_out), l2=l2)
        )
    return CrossValidation(folds=result)
