"""What moved a score: each new score's change since the account's previous score, split
by component ("−14: logins −9, open tickets −5").

A component's *contribution* is what it adds to the score: in a weighted model its score
× its weight / the weight of the components that had a score; in a points model its
points. A missing component contributes 0. When the previous score came from the same
model version, the change of each contribution is that component's part, and the parts
add up to the change of the score. When the version changed, the rules changed too and
the whole change is put down to the model change (``parts`` is null).

Stored on ``HealthScore.delta`` as ``{"from": previous score id, "change": new − old
score (null when either is null), "parts": [one per component, in breakdown order] or
null}``; a first score has no delta.

``delta_parts`` is the reference; ``delta_update_sql`` computes the same set-based, for
the scores one run wrote for one model in a chunk of accounts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from scoring.engine import WEIGHTED
from scoring.sql import Sql, latest_score_sql, ts


def contributions(
    *, kind: str, weights: Sequence[float], component_scores: Sequence[float | None]
) -> list[float]:
    """Each component's contribution to the score (0 where it had no score)."""
    if kind != WEIGHTED:
        return [0.0 if c is None else c for c in component_scores]
    present = 0.0
    for weight, c in zip(weights, component_scores, strict=True):
        if c is not None:
            present += weight
    if not present:
        return [0.0] * len(weights)
    return [
        0.0 if c is None else c * w / present
        for w, c in zip(weights, component_scores, strict=True)
    ]


def delta_parts(
    *,
    kind: str,
    weights: Sequence[float],
    old: Sequence[float | None],
    new: Sequence[float | None],
) -> list[float]:
    """Per component, the change of its contribution from ``old`` to ``new`` scores."""
    before = contributions(kind=kind, weights=weights, component_scores=old)
    after = contributions(kind=kind, weights=weights, component_scores=new)
    return [a - b for a, b in zip(after, before, strict=True)]


def _component(vendor: str, table: str, i: int) -> str:
    if vendor == "postgresql":
        return f"CAST({table}.breakdown -> {i} ->> 1 AS double precision)"
    return f"json_extract({table}.breakdown, '$[{i}][1]')"


def _contribution(kind: str, prefix: str, i: int, n: int, weights: list[float]) -> tuple[str, list]:
    """The expression of component ``i``'s contribution from columns ``{prefix}0..n-1``
    and its parameters, in the reference's order of operations."""
    if kind != WEIGHTED:
        return f"COALESCE({prefix}{i}, 0.0)", []
    present = " + ".join(f"CASE WHEN {prefix}{j} IS NULL THEN 0.0 ELSE %s END" for j in range(n))
    return (
        f"COALESCE({prefix}{i} * %s / NULLIF(0.0 + {present}, 0.0), 0.0)",
        [weights[i], *weights],
    )


def delta_update_sql(
    *,
    vendor: str,
    model_id: int,
    kind: str,
    weights: list[float],
    run_id: int,
    computed_at: dt.datetime,
    first_id: int,
    last_id: int,
) -> Sql:
    """UPDATE the delta of the scores run ``run_id`` wrote with ``model_id`` for accounts
    ``first_id``..``last_id``, against each account's previous score."""
    n = len(weights)
    new_cols = ", ".join(f"{_component(vendor, 'h', i)} AS n{i}" for i in range(n))
    old_cols = ", ".join(f"{_component(vendor, 'p', i)} AS o{i}" for i in range(n))
    pairs = Sql()
    pairs.add(
        "SELECT h.id AS hid, p.id AS pid, h.score - p.score AS change,"
        " CASE WHEN p.model_id = h.model_id THEN 1 ELSE 0 END AS same"
    )
    if n:
        pairs.add(f", {new_cols}, {old_cols}")
    # The run's rows are all dated computed_at: the previous score is the latest before it.
    previous = latest_score_sql(
        vendor, column="id", account="h.account_id", moment=computed_at, inclusive=False
    )
    pairs.add(
        f" FROM scoring_healthscore h JOIN scoring_healthscore p ON p.id = {previous.text}"
        " WHERE h.run_id = %s AND h.computed_at = %s AND h.model_id = %s"
        " AND h.account_id >= %s AND h.account_id <= %s",
        *previous.params,
        run_id,
        ts(vendor, computed_at),
        model_id,
        first_id,
        last_id,
    )

    parts = Sql()
    parts.add("SELECT hid, pid, change, same")
    for i in range(n):
        new_expr, new_params = _contribution(kind, "n", i, n, weights)
        old_expr, old_params = _contribution(kind, "o", i, n, weights)
        parts.add(f", ({new_expr}) - ({old_expr}) AS d{i}", *new_params, *old_params)
    # PostgreSQL would flatten the sub-selects and read each component out of the JSON
    # once per mention (every contribution re-adds the weights present): OFFSET 0 keeps
    # each level a step of its own, so that each value is computed once.
    fence = " OFFSET 0" if vendor == "postgresql" else ""
    parts.add(" FROM (").add(pairs.text, *pairs.params).add(f"{fence}) pairs")

    # PostgreSQL: jsonb built directly rather than json text parsed again (same values).
    json_object = "jsonb_build_object" if vendor == "postgresql" else "json_object"
    json_array = "jsonb_build_array" if vendor == "postgresql" else "json_array"
    array = f"{json_array}({', '.join(f'd{i}' for i in range(n))})"
    parts_expr = f"CASE WHEN same = 1 THEN {array} END"
    if vendor != "postgresql":
        # A CASE drops SQLite's JSON subtype: json() restores it (and keeps NULL).
        parts_expr = f"json({parts_expr})"
    value = f"{json_object}('from', pid, 'change', change, 'parts', {parts_expr})"
    sql = Sql()
    sql.add(f"UPDATE scoring_healthscore SET delta = {value} FROM (")
    sql.add(parts.text, *parts.params)
    # The run's as-of is every new row's computed_at: on PostgreSQL it confines the
    # update to the month's partition (scoring/partitions.py).
    sql.add(
        f"{fence}) d WHERE d.hid = scoring_healthscore.id AND scoring_healthscore.computed_at = %s",
        ts(vendor, computed_at),
    )
    return sql
