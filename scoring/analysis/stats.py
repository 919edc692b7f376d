"""The statistics of a backtest, in plain Python: no ORM, no I/O.

A backtest asks how well a score, taken at a past date, told apart the accounts that
churned afterwards (``label`` 1) from those that stayed (0). A *lower* score means more
risk throughout; every function takes scores and labels as given by the database and
turns them the right way round itself.

- ``roc_auc``: the probability that a churned account scored lower than one that
  stayed, ties counting one half (the Mann-Whitney U statistic with midranks,
  divided by n1 × n0). 0.5 is no better than chance; 1.0 separates perfectly.
- ``group_rates`` and ``lift``: churn rate per group (a band) and how many times the
  overall rate a group's rate is.
- ``score_deciles``: the calibration table, accounts cut into ten groups by score;
  equal scores always fall in the same group (by their midrank), so groups may be
  uneven when many accounts share a score.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values`` in increasing order; tied values share their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        # Positions start..end (0-based) hold one tied value: ranks start+1 .. end+1.
        shared = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = shared
        start = end + 1
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """ROC AUC of risk = lower score, for ``labels`` 1 (churned) against 0 (stayed).

    None when either class is empty: the AUC is undefined then.
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels.")
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    # Rank by risk (the negated score): the riskiest gets the highest rank.
    ranks = midranks([-score for score in scores])
    rank_sum = 0.0
    for rank, label in zip(ranks, labels, strict=True):
        if label:
            rank_sum += rank
    u = rank_sum - positives * (positives + 1) / 2
    return u / (positives * negatives)


@dataclass(frozen=True)
class GroupRate:
    key: Hashable
    accounts: int
    churned: int

    @property
    def rate(self) -> float | None:
        return self.churned / self.accounts if self.accounts else None


def group_rates(keys: Sequence[Hashable], labels: Sequence[int]) -> dict[Hashable, GroupRate]:
    """Accounts and churned accounts per group key."""
    counts: dict[Hashable, list[int]] = {}
    for key, label in zip(keys, labels, strict=True):
        slot = counts.setdefault(key, [0, 0])
        slot[0] += 1
        slot[1] += 1 if label else 0
    return {key: GroupRate(key, n, churned) for key, (n, churned) in counts.items()}


def churn_rate(labels: Sequence[int]) -> float | None:
    return sum(1 for label in labels if label) / len(labels) if labels else None


def lift(group_rate: float | None, overall_rate: float | None) -> float | None:
    """How many times the overall churn rate a group's rate is (None when undefined)."""
    if group_rate is None or not overall_rate:
        return None
    return group_rate / overall_rate


@dataclass(frozen=True)
class Decile:
    index: int  # 1 = the lowest scores (the riskiest tenth)
    accounts: int
    churned: int
    low: float
    high: float
    mean: float

    @property
    def rate(self) -> float:
        return self.churned / self.accounts


def score_deciles(
    scores: Sequence[float], labels: Sequence[int], *, groups: int = 10
) -> list[Decile]:
    """Accounts cut into ``groups`` by score, lowest first; empty groups are left out.

    An account's group is ``floor(groups × (midrank − ½) / n)``: the share of accounts
    below its midrank. Ties share a midrank and so a group.
    """
    n = len(scores)
    if n == 0:
        return []
    ranks = midranks(scores)
    members: dict[int, list[int]] = {}
    for i, rank in enumerate(ranks):
        group = min(groups - 1, int(groups * (rank - 0.5) / n))
        members.setdefault(group, []).append(i)
    result = []
    for group in sorted(members):
        idx = members[group]
        values = [scores[i] for i in idx]
        total = 0.0
        for value in values:
            total += value
        result.append(
            Decile(
                index=group + 1,
                accounts=len(idx),
                churned=sum(1 for i in idx if labels[i]),
                low=min(values),
                high=max(values),
                mean=total / len(values),
            )
        )
    return result


def roc_points(
    scores: Sequence[float], labels: Sequence[int], *, max_points: int = 200
) -> list[tuple[float, float]]:
    """The ROC curve of risk = lower score: (false positive rate, true positive rate)
    from (0, 0) to (1, 1), one step per distinct score (thinned to ``max_points``)."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return []
    pairs = sorted(zip(scores, labels, strict=True), key=lambda pair: pair[0])
    points = [(0.0, 0.0)]
    tp = fp = 0
    for i, (score, label) in enumerate(pairs):
        if label:
            tp += 1
        else:
            fp += 1
        # A threshold falls only between different scores: ties move together.
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            points.append((fp / negatives, tp / positives))
    if len(points) > max_points:
        step = (len(points) - 1) / (max_points - 1)
        points = [points[round(i * step)] for i in range(max_points)]
    return points
