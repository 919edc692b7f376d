"""Weights fitted to churn history: the logistic regression, the way back to weights
that sum to 100, and the measurement out of sample."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest

from scoring.analysis import calibration
from scoring.engine import ComponentSpec


def test_the_fit_is_where_the_penalised_likelihood_is_flat():
    rng = np.random.default_rng(3)
    x = rng.random((400, 3))
    truth = -1.5 + x @ np.array([3.0, -2.0, 0.0])
    y = (rng.random(400) < 1 / (1 + np.exp(-truth))).astype(int)
    intercept, coefficients = calibration.fit_logistic(x, y, l2=1.0)
    beta = np.concatenate([[intercept], coefficients])
    design = np.hstack([np.ones((400, 1)), x])
    p = 1 / (1 + np.exp(-(design @ beta)))
    gradient = design.T @ (p - y) + np.concatenate([[1e-9 * intercept], 1.0 * coefficients])
    assert np.max(np.abs(gradient)) < 1e-6
    # Rising with the first feature, falling with the second, about flat with the third.
    assert coefficients[0] > 1 and coefficients[1] < -1 and abs(coefficients[2]) < 1


def test_percentages_sum_to_exactly_one_hundred():
    weights = calibration._percentages([1.0, 1.0, 1.0])
    assert sum(weights) == Decimal(100)
    assert sorted(weights) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert calibration._percentages([0.0, 2.0]) == [Decimal(0), Decimal(100)]


def _history(n: int = 600, seed: int = 1):
    """Accounts whose churn follows usage (more is better) and tickets (more is worse);
    a survey score carries nothing, and "discount" goes the wrong way."""
    rng = random.Random(seed)
    raws, scores, labels = [], [], []
    for _ in range(n):
        usage = rng.uniform(0, 200)
        tickets = rng.uniform(0, 10)
        survey = rng.uniform(0, 100)
        discount = rng.choice([0.0, 100.0])
        risk = -1.0 - usage / 50 + tickets / 3 + discount / 100
        churned = 1 if rng.random() < 1 / (1 + pow(2.718281828, -risk)) else 0
        raws.append([usage, tickets, survey, discount])
        # As the current model scores them: usage 0→100 over 0..400 (too wide), tickets
        # the wrong way round, the rest passed through.
        scores.append([min(100.0, usage / 4), min(100.0, tickets * 10), survey, discount])
        labels.append(churned)
    return calibration.Data(
        raws=raws,
        scores=scores,
        labels=labels,
        groups=list(range(n)),
        current=[0.5 * s[0] + 0.5 * s[1] for s in scores],
    )


SPECS = [
    ComponentSpec("usage", "linear", {"worst": 0, "best": 400}, 50.0),
    ComponentSpec("tickets", "linear", {"worst": 0, "best": 10}, 50.0),
    ComponentSpec("survey", "passthrough", {}, 0.0),
    ComponentSpec("discount", "passthrough", {}, 0.0),
]


def test_a_suggestion_weighs_what_carries_signal_and_turns_linear_thresholds_round():
    suggestion = calibration.suggest(specs=SPECS, data=_history())
    usage, tickets, survey, discount = suggestion.components
    assert sum(suggestion.weights) == Decimal(100)
    # Usage: its thresholds now span the data, best at the top.
    assert usage.spec.params["best"] > usage.spec.params["worst"]
    assert usage.spec.params["best"] <= 200
    # Tickets: the fit found that more is worse, so the thresholds turn round.
    assert tickets.spec.params["worst"] > tickets.spec.params["best"]
    assert "direction reversed" in tickets.note
    # A passed-through score whose rise goes with more churn is given no weight.
    assert discount.spec.weight == 0
    assert "higher score went with more churn" in discount.note
    assert usage.spec.weight > survey.spec.weight and tickets.spec.weight > survey.spec.weight


def test_the_suggested_version_beats_the_current_one_out_of_sample():
    data = _history(n=900)
    cv = calibration.cross_validate(specs=SPECS, data=data, k=5)
    assert len(cv.folds) == 5
    current, _ = cv.current
    suggested, _ = cv.suggested
    assert suggested > current + 0.1


def test_folds_keep_an_account_whole_and_spread_the_churned():
    data = calibration.Data(
        raws=[[1.0]] * 40,
        scores=[[1.0]] * 40,
        labels=[1 if i % 4 == 0 else 0 for i in range(40)],
        groups=[i // 2 for i in range(40)],  # each account seen at two dates
        current=[1.0] * 40,
    )
    folds = calibration.folds(data, k=5)
    assert sorted(i for fold in folds for i in fold) == list(range(40))
    for fold in folds:
        accounts = {data.groups[i] for i in fold}
        assert all(2 * a in fold and 2 * a + 1 in fold for a in accounts)
        assert sum(data.labels[i] for i in fold) == 2


def test_no_suggestion_without_both_churned_and_staying_accounts():
    data = calibration.Data(
        raws=[[1.0]] * 5,
        scores=[[10.0]] * 5,
        labels=[0] * 5,
        groups=list(range(5)),
        current=[1.0] * 5,
    )
    with pytest.raises(calibration.CalibrationError, match="0 churned of 5"):
        calibration.suggest(specs=[ComponentSpec("usage", "passthrough")], data=data)
