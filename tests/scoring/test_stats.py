"""The backtest's statistics against values worked out by hand, and the AUC against the
definition it abbreviates (every churned/stayed pair compared, ties counting half)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.analysis import stats


def test_midranks_share_the_average_rank_of_a_tie():
    assert stats.midranks([30, 10, 20, 10, 30, 30]) == [5.0, 1.5, 3.0, 1.5, 5.0, 5.0]


def test_auc_is_one_when_every_churned_account_scored_below_every_staying_one():
    assert stats.roc_auc([10, 20, 30, 40], [1, 1, 0, 0]) == 1.0


def test_auc_is_zero_when_the_score_points_the_wrong_way():
    assert stats.roc_auc([10, 20, 30, 40], [0, 0, 1, 1]) == 0.0


def test_auc_is_one_half_when_every_score_is_the_same():
    assert stats.roc_auc([50, 50, 50, 50, 50], [1, 0, 1, 0, 0]) == 0.5


def test_auc_counts_ties_as_one_half_worked_by_hand():
    # Churned 10, 30, 30 against stayed 20, 30, 40, 50.
    # 10 is below all four (4); each 30 is above 20 (0), ties 30 (½), below 40 and 50 (2):
    # (4 + 2.5 + 2.5) / (3 × 4) = 0.75.
    scores = [10, 30, 30, 20, 30, 40, 50]
    labels = [1, 1, 1, 0, 0, 0, 0]
    assert stats.roc_auc(scores, labels) == pytest.approx(0.75)


def test_auc_is_undefined_without_both_classes():
    assert stats.roc_auc([1, 2, 3], [0, 0, 0]) is None
    assert stats.roc_auc([1, 2, 3], [1, 1, 1]) is None


def test_auc_rejects_lists_of_different_lengths():
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        stats.roc_auc([1, 2, 3], [0, 1])


def _pairwise_auc(scores, labels):
    churned = [s for s, label in zip(scores, labels, strict=True) if label]
    stayed = [s for s, label in zip(scores, labels, strict=True) if not label]
    wins = sum(
        1.0 if c < s else 0.5 if c == s else 0.0 for c, s in itertools.product(churned, stayed)
    )
    return wins / (len(churned) * len(stayed))


@given(
    st.lists(
        st.tuples(st.integers(0, 12).map(float), st.integers(0, 1)), min_size=2, max_size=60
    ).filter(lambda rows: 0 < sum(label for _, label in rows) < len(rows))
)
def test_auc_equals_the_pairwise_definition(rows):
    scores = [score for score, _ in rows]
    labels = [label for _, label in rows]
    assert stats.roc_auc(scores, labels) == pytest.approx(_pairwise_auc(scores, labels))


def test_roc_curve_runs_from_the_origin_to_one_one_moving_ties_together():
    points = stats.roc_points([10, 30, 30, 20, 30, 40, 50], [1, 1, 1, 0, 0, 0, 0])
    # Thresholds: ≤10 (1 churned), ≤20 (+1 stayed), ≤30 (+2 churned +1 stayed), ≤40, ≤50.
    assert points == [
        (0.0, 0.0),
        (0.0, 1 / 3),
        (0.25, 1 / 3),
        (0.5, 1.0),
        (0.75, 1.0),
        (1.0, 1.0),
    ]


def test_deciles_cut_by_score_lowest_first():
    scores = list(range(1, 21))
    labels = [1, 1, 1, 0] + [0] * 16
    deciles = stats.score_deciles(scores, labels)
    assert [d.index for d in deciles] == list(range(1, 11))
    assert [d.accounts for d in deciles] == [2] * 10
    assert (deciles[0].churned, deciles[0].rate, deciles[0].low, deciles[0].high) == (2, 1.0, 1, 2)
    assert deciles[1].churned == 1
    assert deciles[9].mean == 19.5


def test_deciles_keep_equal_scores_together():
    # Four accounts share the lowest score: midrank 2.5, so all four are in decile 3.
    deciles = stats.score_deciles([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], [1, 0, 0, 0] + [0] * 6)
    assert [(d.index, d.accounts) for d in deciles] == [
        (3, 4),
        (5, 1),
        (6, 1),
        (7, 1),
        (8, 1),
        (9, 1),
        (10, 1),
    ]


def test_churn_rates_by_group_and_the_lift_of_a_group():
    rates = stats.group_rates(["red", "red", "red", "red", "green", "green"], [1, 1, 0, 0, 0, 0])
    assert (rates["red"].accounts, rates["red"].churned, rates["red"].rate) == (4, 2, 0.5)
    assert rates["green"].rate == 0.0
    overall = stats.churn_rate([1, 1, 0, 0, 0, 0])
    assert overall == pytest.approx(1 / 3)
    assert stats.lift(rates["red"].rate, overall) == pytest.approx(1.5)
    assert stats.lift(0.5, 0.0) is None
