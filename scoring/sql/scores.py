"""Scores from the roll-up table: component scores, score, band, completeness and
breakdown per account, and flap control's confirmed band, in SQL."""

from __future__ import annotations

import datetime as dt

from scoring.engine import (
    POINTS,
    WEIGHTED,
    BandSpec,
    ComponentSpec,
    FlapRules,
    band_bounds,
    band_ranks,
    dwell_reached_by,
)
from scoring.sql import Sql, fence, ts
from scoring.sql.rollup import MetricColumn


def _component_sql(spec: ComponentSpec, raw: str, kind: str, sql: Sql) -> None:
    """Append the component score expression for raw value expression ``raw``."""
    p = spec.params
    if spec.rule == "linear":
        x = f"(({raw} - %s) / (%s - %s) * 100.0)"
        worst, best = float(p["worst"]), float(p["best"])
        sql.add(
            f"CASE WHEN {raw} IS NULL THEN NULL WHEN {x} < 0 THEN 0.0 WHEN {x} > 100 THEN 100.0 ELSE {x} END",
            worst,
            best,
            worst,
            worst,
            best,
            worst,
            worst,
            best,
            worst,
        )
    elif spec.rule == "steps":
        steps = sorted(p["steps"], key=lambda step: float(step[0]))
        sql.add(f"CASE WHEN {raw} IS NULL THEN NULL")
        for threshold, score in reversed(steps):
            sql.add(f" WHEN {raw} >= %s THEN %s", float(threshold), float(score))
        sql.add(" ELSE 0.0 END")
    elif spec.rule == "table":
        sql.add("CASE")
        for key, score in p["table"].items():
            sql.add(f" WHEN {raw} = %s THEN %s", float(key), float(score))
        sql.add(" END")
    elif spec.rule == "passthrough":
        if kind == WEIGHTED:
            sql.add(
                f"CASE WHEN {raw} IS NULL THEN NULL WHEN {raw} < 0 THEN 0.0"
                f" WHEN {raw} > 100 THEN 100.0 ELSE {raw} END"
            )
        else:
            sql.add(f"({raw})")
    elif spec.rule == "per_unit":
        sql.add(f"({raw} * %s)", float(p["points"]))
    else:
        raise ValueError(f"unknown rule {spec.rule!r}")


def _band_id(band_id: int | None) -> int:
    """A band's id as a literal of the SQL: bands scored in SQL are saved rows."""
    if band_id is None:
        raise ValueError("a band scored in SQL needs its id")
    return int(band_id)


def _band_sql(bands: tuple[BandSpec, ...], score: str, sql: Sql) -> None:
    bounded = sorted(
        ((b.lower, b) for b in bands if b.lower is not None), key=lambda pair: -pair[0]
    )
    open_below = next((b for b in bands if b.lower is None), None)
    sql.add(f"CASE WHEN {score} IS NULL THEN NULL")
    for lower, band in bounded:
        sql.add(f" WHEN {score} >= %s THEN {_band_id(band.id)}", float(lower))
    sql.add(f" ELSE {_band_id(open_below.id) if open_below else 'NULL'} END")


def _levels_sql(
    *,
    vendor: str,
    rollup_table: str,
    model_id: int,
    kind: str,
    components: list[tuple[ComponentSpec, MetricColumn]],
) -> Sql:
    """SELECT account_id, r0, c0, …, score, completeness for the accounts of ``model_id``."""
    n = len(components)
    end = fence(vendor)

    # Level 1: raw values (missing replaced by the default where the component says so).
    level1 = Sql()
    level1.add("SELECT account_id")
    for i, (spec, metric) in enumerate(components):
        if spec.missing == "default" and spec.default is not None:
            level1.add(f", COALESCE({metric.column}, %s) AS r{i}", float(spec.default))
        else:
            level1.add(f", {metric.column} AS r{i}")
        level1.add(f", CASE WHEN {metric.column} IS NULL THEN 0 ELSE 1 END AS d{i}")
    level1.add(f" FROM {rollup_table} WHERE model_id = {int(model_id)}")

    # Level 2: component scores.
    level2 = Sql()
    level2.add("SELECT account_id")
    for i, (spec, _) in enumerate(components):
        level2.add(f", r{i}, d{i}, ")
        _component_sql(spec, f"r{i}", kind, level2)
        level2.add(f" AS c{i}")
    level2.add(" FROM (").add(level1.text, *level1.params).add(f"{end}) l1")

    # Level 3: score and completeness.
    level3 = Sql()
    level3.add("SELECT account_id")
    for i in range(n):
        level3.add(f", r{i}, c{i}")
    if n == 0:
        level3.add(", NULL AS score, 0.0 AS completeness")
    elif kind == WEIGHTED:
        weights = [float(spec.weight) for spec, _ in components]
        numerator = "0.0 + " + " + ".join(f"COALESCE(c{i} * %s, 0.0)" for i in range(n))
        denominator = " + ".join(f"CASE WHEN c{i} IS NULL THEN 0.0 ELSE %s END" for i in range(n))
        level3.add(
            f", ({numerator}) / NULLIF(0.0 + {denominator}, 0.0) AS score", *weights, *weights
        )
        total_weight = 0.0
        for w in weights:
            total_weight += w
        had = " + ".join(
            f"CASE WHEN d{i} = 1 AND c{i} IS NOT NULL THEN %s ELSE 0.0 END" for i in range(n)
        )
        if total_weight:
            level3.add(f", (0.0 + {had}) / %s AS completeness", *weights, total_weight)
        else:
            level3.add(", 0.0 AS completeness")
    elif kind == POINTS:
        anyp = " OR ".join(f"c{i} IS NOT NULL" for i in range(n))
        total = "0.0 + " + " + ".join(f"COALESCE(c{i}, 0.0)" for i in range(n))
        level3.add(f", CASE WHEN {anyp} THEN {total} END AS score")
        had = " + ".join(
            f"CASE WHEN d{i} = 1 AND c{i} IS NOT NULL THEN 1 ELSE 0 END" for i in range(n)
        )
        level3.add(f", CAST({had} AS REAL) / {n} AS completeness")
    level3.add(" FROM (").add(level2.text, *level2.params).add(f"{end}) l2")
    return level3


def _breakdown_sql(vendor: str, n: int, prefix: str = "") -> str:
    # PostgreSQL: jsonb built directly rather than json text parsed again (same values).
    json_array = "jsonb_build_array" if vendor == "postgresql" else "json_array"
    pairs = ", ".join(f"{json_array}({prefix}r{i}, {prefix}c{i})" for i in range(n))
    return f"{json_array}({pairs})"


def score_select_sql(
    *,
    vendor: str,
    rollup_table: str,
    model_id: int,
    kind: str,
    components: list[tuple[ComponentSpec, MetricColumn]],
    bands: tuple[BandSpec, ...],
) -> Sql:
    """SELECT account_id, score, band_id, completeness, breakdown of every account in the
    roll-up table scored by ``model_id``: the rows ``score_insert_sql`` would store."""
    levels = _levels_sql(
        vendor=vendor,
        rollup_table=rollup_table,
        model_id=model_id,
        kind=kind,
        components=components,
    )
    sql = Sql()
    sql.add("SELECT account_id, score, ")
    _band_sql(bands, "score", sql)
    sql.add(f" AS band_id, completeness, {_breakdown_sql(vendor, len(components))} AS breakdown")
    sql.add(" FROM (").add(levels.text, *levels.params).add(f"{fence(vendor)}) l3")
    return sql


def _within_sql(bands: tuple[BandSpec, ...], margin: float, sql: Sql) -> None:
    """1 when ``score`` lies within confirmed band ``pb`` widened by the exit margin, else 0
    (``engine.within_band``)."""
    sql.add("CASE")
    for band_id, (lower, upper) in band_bounds(bands).items():
        conditions, params = [f"pb = {_band_id(band_id)}"], []
        if lower is not None:
            conditions.append("score >= %s")
            params.append(lower - margin)
        if upper is not None:
            conditions.append("score < %s")
            params.append(upper + margin)
        sql.add(f" WHEN {' AND '.join(conditions)} THEN 1", *params)
    sql.add(" ELSE 0 END")


def score_insert_sql(
    *,
    vendor: str,
    rollup_table: str,
    model_id: int,
    kind: str,
    components: list[tuple[ComponentSpec, MetricColumn]],
    bands: tuple[BandSpec, ...],
    rules: FlapRules,
    run_id: int | None,
    computed_at: dt.datetime,
) -> Sql:
    """INSERT the history rows of every account in the roll-up table scored by ``model_id``,
    each with its raw band and, by flap control against the account's latest health
    (``engine.confirm_band``), its confirmed and pending band.

    Levels above the scores: l4 joins the latest health and says how this scoring
    relates to it (``mode``: 0 a first score or baseline, 1 a re-baseline under another
    model, 2 the same model), with the bands' ranks; l5 decides whether the score has
    left the confirmed band, counts the streak and picks the pending band; the SELECT
    writes the state."""
    levels = _levels_sql(
        vendor=vendor,
        rollup_table=rollup_table,
        model_id=model_id,
        kind=kind,
        components=components,
    )
    end = fence(vendor)
    at = ts(vendor, computed_at)

    ranks = band_ranks(bands)

    def rank_of(column: str) -> str:
        whens = "".join(f" WHEN {_band_id(band_id)} THEN {rank}" for band_id, rank in ranks.items())
        return f"CASE {column}{whens} END" if whens else "NULL"

    l4 = Sql()
    l4.add("SELECT l3.account_id AS account_id, l3.score AS score, ")
    _band_sql(bands, "l3.score", l4)
    l4.add(
        f" AS raw, l3.completeness AS completeness,"
        f" {_breakdown_sql(vendor, len(components), 'l3.')} AS breakdown,"
        " ah.band_id AS pb, ah.pending_band_id AS ppb, ah.pending_count AS ppc,"
        f" ah.pending_since AS pps, {rank_of('ah.band_id')} AS pb_rank,"
        f" {rank_of('ah.pending_band_id')} AS ppb_rank,"
        # A previous score dated at or after this one (a past-dated run) is no previous.
        " CASE WHEN ah.account_id IS NULL OR ah.computed_at >= %s THEN 0"
        f" WHEN ah.model_id <> {int(model_id)} THEN 1"
        " WHEN ah.band_id IS NULL THEN 0 ELSE 2 END AS mode",
        at,
    )
    l4.add(" FROM (").add(levels.text, *levels.params).add(f"{end}) l3")
    l4.add(" LEFT JOIN scoring_accounthealth ah ON ah.account_id = l3.account_id")

    # The raw band's rank, from the raw band computed at l4 (its CASE is over l3.score).
    l4b = Sql()
    l4b.add(f"SELECT l4.*, {rank_of('l4.raw')} AS raw_rank FROM (")
    l4b.add(l4.text, *l4.params).add(f"{end}) l4")

    def side(rank: str) -> str:
        return f"(CASE WHEN {rank} > pb_rank THEN 1 WHEN {rank} < pb_rank THEN -1 ELSE 0 END)"

    # The streak goes on when the pending band is on the same side of the confirmed one
    # as the raw band; the pending band is then the nearer of the two.
    same = f"(ppb IS NOT NULL AND {side('ppb_rank')} = {side('raw_rank')})"
    l5 = Sql()
    l5.add("SELECT account_id, score, raw, completeness, breakdown, pb, mode, ")
    l5.add("CASE WHEN mode = 2 AND score IS NOT NULL AND raw IS NOT NULL AND ")
    _within_sql(bands, float(rules.exit_margin), l5)
    l5.add(
        " = 0 THEN 1 ELSE 0 END AS moving,"
        f" CASE WHEN {same} THEN ppc + 1 ELSE 1 END AS cnt,"
        f" CASE WHEN {same} THEN pps ELSE %s END AS since,"
        f" CASE WHEN {same} AND abs(ppb_rank - pb_rank) <= abs(raw_rank - pb_rank)"
        " THEN ppb ELSE raw END AS pend",
        at,
    )
    l5.add(" FROM (").add(l4b.text, *l4b.params).add(f"{end}) l4b")

    settle = Sql()
    settle.add(
        "cnt >= %s AND since <= %s",
        int(rules.dwell_scorings),
        ts(vendor, dwell_reached_by(computed_at, int(rules.dwell_days))),
    )
    waiting = f"mode = 2 AND moving = 1 AND NOT ({settle.text})"
    sql = Sql()
    sql.add(
        "INSERT INTO scoring_healthscore"
        " (account_id, run_id, model_id, score, band_id, confirmed_band_id, pending_band_id,"
        " pending_count, pending_since, rebaseline, completeness, breakdown, computed_at)"
        " SELECT account_id, %s, %s, score, raw,",
        run_id,
        model_id,
    )
    sql.add(
        f" CASE WHEN mode <> 2 THEN raw WHEN moving = 0 THEN pb WHEN {settle.text} THEN pend"
        " ELSE pb END,",
        *settle.params,
    )
    sql.add(f" CASE WHEN {waiting} THEN pend END,", *settle.params)
    sql.add(f" CASE WHEN {waiting} THEN cnt ELSE 0 END,", *settle.params)
    sql.add(f" CASE WHEN {waiting} THEN since END,", *settle.params)
    sql.add(" CASE WHEN mode = 1 THEN TRUE ELSE FALSE END, completeness, breakdown, %s", at)
    sql.add(" FROM (").add(l5.text, *l5.params).add(f"{end}) l5")
    if vendor == "postgresql":
        sql.add(" ON CONFLICT DO NOTHING")
    else:
        sql.add(" WHERE true ON CONFLICT DO NOTHING")
    return sql
