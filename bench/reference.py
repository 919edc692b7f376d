"""The hand-written reference: the same recompute as plain SQL written for this one model.

It reads the same signals and writes the same rows as the real recompute, into tables
of the same shape, with the same indexes and the same foreign keys
(``bench_ref_healthscore``, ``bench_ref_accounthealth``, ``bench_ref_scoreevent``), in
one transaction over all accounts:

1. roll-up: one grouped pass over the signals plus a DISTINCT ON for the latest value;
2. scoring: the eight components, the weighted score, the band, the breakdown and the
   change since the account's previous score by component (``delta``, see
   ``scoring/attribution.py``), written as history rows in one INSERT ... SELECT;
3. band changes and score drops in one INSERT ... SELECT against the latest scores;
4. the latest score per account upserted with its 7/30/90-day trends.

Every rule is spelled out by hand with its constants (nothing comes from
``scoring/sql/``), so the benchmark also checks the compiled SQL against an
independent statement of the rules.
"""

from __future__ import annotations

import datetime as dt
import time

from bench.data import Scenario

REF_TABLES = {
    "scoring_healthscore": "bench_ref_healthscore",
    "scoring_accounthealth": "bench_ref_accounthealth",
    "scoring_scoreevent": "bench_ref_scoreevent",
}


def create_tables(cursor) -> None:
    """Reference tables like ours: columns, defaults, indexes, checks and foreign keys."""
    for ref in REF_TABLES.values():
        cursor.execute(f"DROP TABLE IF EXISTS {ref} CASCADE")
    for ours, ref in REF_TABLES.items():
        cursor.execute(f"CREATE TABLE {ref} (LIKE {ours} INCLUDING ALL)")
    for ours, ref in REF_TABLES.items():
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [ours],
        )
        for name, definition in cursor.fetchall():
            for our_table, ref_table in REF_TABLES.items():
                definition = definition.replace(
                    f"REFERENCES {our_table}(", f"REFERENCES {ref_table}("
                )
            constraint = f"ref_{name}"[:63]
            cursor.execute(f'ALTER TABLE {ref} ADD CONSTRAINT "{constraint}" {definition}')
    # Flap control's columns, which the reference does not compute: what a row without
    # pending state holds, so that the reference's statements still fill every column.
    for ref in ("bench_ref_healthscore", "bench_ref_accounthealth"):
        cursor.execute(
            f"ALTER TABLE {ref} ALTER COLUMN pending_count SET DEFAULT 0,"
            " ALTER COLUMN rebaseline SET DEFAULT false"
        )
    cursor.execute("ALTER TABLE bench_ref_accounthealth ALTER COLUMN level SET DEFAULT ''")
    cursor.execute("ALTER TABLE bench_ref_scoreevent ALTER COLUMN rebaseline SET DEFAULT false")


def _ids(s: Scenario) -> dict[str, int]:
    return {key: m.id for key, m in s.metrics.items()}


def rollup_sql(s: Scenario, *, table: str, as_of: dt.datetime) -> tuple[str, dict]:
    """CREATE TEMP TABLE ``table`` (account_id, m<metric id> ...) from the raw signals."""
    m = _ids(s)
    p = {
        "as_of": as_of,
        "as_of_date": as_of.date(),
        "w14": as_of - dt.timedelta(days=14),
        "w28": as_of - dt.timedelta(days=28),
        "w30": as_of - dt.timedelta(days=30),
        "w60": as_of - dt.timedelta(days=60),
    }
    sql = f"""
    CREATE TEMP TABLE {table} AS
    SELECT a.id AS account_id,
        latest.value AS m{m["usage_pct"]},
        agg.logins AS m{m["logins"]},
        COALESCE(agg.tickets, 0.0) AS m{m["support_tickets"]},
        agg.csat AS m{m["csat"]},
        (COALESCE(agg.change_now, 0.0) - agg.change_before)
            / abs(NULLIF(agg.change_before, 0.0)) * 100.0 AS m{m["usage_change"]},
        EXTRACT(EPOCH FROM (%(as_of)s - agg.contact_at))::float8 / 86400.0
            AS m{m["last_contact"]},
        agg.seats AS m{m["seats_used"]},
        agg.nps AS m{m["nps"]}
    FROM accounts_account a
    LEFT JOIN (
        SELECT account_id,
            sum(value) FILTER (WHERE metric_id = {m["logins"]} AND timestamp >= %(w30)s)
                AS logins,
            count(*) FILTER (WHERE metric_id = {m["support_tickets"]} AND timestamp >= %(w30)s)
                ::float8 AS tickets,
            avg(value) FILTER (WHERE metric_id = {m["csat"]} AND timestamp >= %(w30)s) AS csat,
            sum(value) FILTER (WHERE metric_id = {m["usage_change"]} AND timestamp >= %(w14)s)
                AS change_now,
            sum(value) FILTER (WHERE metric_id = {m["usage_change"]} AND timestamp >= %(w28)s
                AND timestamp < %(w14)s) AS change_before,
            max(timestamp) FILTER (WHERE metric_id = {m["last_contact"]}) AS contact_at,
            max(value) FILTER (WHERE metric_id = {m["seats_used"]} AND timestamp >= %(w30)s)
                AS seats,
            min(value) FILTER (WHERE metric_id = {m["nps"]} AND timestamp >= %(w60)s) AS nps
        FROM scoring_signal
        WHERE timestamp < %(as_of)s AND metric_id IN ({", ".join(str(i) for i in m.values())})
        GROUP BY account_id
    ) agg ON agg.account_id = a.id
    LEFT JOIN (
        SELECT DISTINCT ON (account_id) account_id, value
        FROM scoring_signal
        WHERE metric_id = {m["usage_pct"]} AND timestamp < %(as_of)s
        ORDER BY account_id, timestamp DESC, id DESC
    ) latest ON latest.account_id = a.id
    WHERE a.churned_at IS NULL OR a.churned_at > %(as_of_date)s
    """
    return sql, p


def _clamp(x: str) -> str:
    # greatest/least skip NULLs, so a missing value is kept missing explicitly.
    return f"CASE WHEN {x} IS NULL THEN NULL ELSE greatest(0.0, least(100.0, {x})) END"


def score_sql(s: Scenario, *, rollup_table: str, run_id: int, as_of: dt.datetime) -> tuple:
    m = _ids(s)
    b = {name: band.id for name, band in s.bands.items()}
    c = {  # component score of each raw value r1..r8
        1: _clamp("r1"),
        2: _clamp("(r2 - 0.0) / 15.0 * 100.0"),
        3: "CASE WHEN r3 >= 4 THEN 0.0 WHEN r3 >= 2 THEN 50.0 WHEN r3 >= 1 THEN 80.0"
        " WHEN r3 >= 0 THEN 100.0 WHEN r3 IS NOT NULL THEN 0.0 END",
        4: _clamp("(r4 - 1.0) / 4.0 * 100.0"),
        5: _clamp("(r5 + 50.0) / 100.0 * 100.0"),
        6: _clamp("(r6 - 30.0) / -30.0 * 100.0"),
        7: "CASE WHEN r7 >= 25 THEN 100.0 WHEN r7 >= 10 THEN 70.0 WHEN r7 >= 5 THEN 40.0"
        " WHEN r7 IS NOT NULL THEN 0.0 END",
        8: "CASE r8 WHEN 10 THEN 100.0 WHEN 9 THEN 100.0 WHEN 8 THEN 70.0 WHEN 7 THEN 70.0"
        " WHEN 6 THEN 30.0 WHEN 5 THEN 30.0 WHEN 4 THEN 10.0 END",
    }
    w = {1: 20, 2: 15, 3: 10, 4: 15, 5: 10, 6: 10, 7: 10, 8: 10}
    numerator = " + ".join(f"COALESCE(c{i} * {w[i]}.0, 0.0)" for i in w)
    present = " + ".join(f"CASE WHEN c{i} IS NULL THEN 0.0 ELSE {w[i]}.0 END" for i in w)
    had = " + ".join(f"CASE WHEN d{i} AND c{i} IS NOT NULL THEN {w[i]}.0 ELSE 0.0 END" for i in w)
    keys = [
        "usage_pct",
        "logins",
        "support_tickets",
        "csat",
        "usage_change",
        "last_contact",
        "seats_used",
        "nps",
    ]
    raws = ", ".join(
        (f"COALESCE(m{m[k]}, 0.0) AS r{i}" if k == "logins" else f"m{m[k]} AS r{i}")
        + f", m{m[k]} IS NOT NULL AS d{i}"
        for i, k in enumerate(keys, start=1)
    )

    # A component's contribution: its score × its weight / the weight of the components
    # that had a score (0 when it had none); the delta's parts are new − previous.
    def contribution(scores: dict[int, str], i: int) -> str:
        weight_present = " + ".join(
            f"CASE WHEN {scores[j]} IS NULL THEN 0.0 ELSE {w[j]}.0 END" for j in w
        )
        return f"COALESCE({scores[i]} * {w[i]}.0 / NULLIF({weight_present}, 0.0), 0.0)"

    new = {i: f"c{i}" for i in w}
    old = {i: f"(prev_breakdown -> {i - 1} ->> 1)::float8" for i in w}
    parts = ", ".join(f"{contribution(new, i)} - {contribution(old, i)}" for i in w)
    sql = f"""
    INSERT INTO bench_ref_healthscore (account_id, run_id, model_id, score, band_id,
        pending_count, rebaseline, completeness, breakdown, computed_at, delta)
    SELECT account_id, %(run)s, %(model)s, score,
        CASE WHEN score >= 75 THEN {b["Healthy"]} WHEN score >= 50 THEN {b["Watch"]}
             WHEN score >= 0 THEN {b["At risk"]} END, 0, FALSE,
        completeness,
        jsonb_build_array({", ".join(f"jsonb_build_array(r{i}, c{i})" for i in w)}),
        %(as_of)s,
        CASE WHEN prev_id IS NOT NULL THEN jsonb_build_object(
            'from', prev_id, 'change', score - prev_score,
            'parts', CASE WHEN prev_model_id = %(model)s THEN jsonb_build_array({parts}) END)
        END
    FROM (
        SELECT *, ({numerator}) / NULLIF({present}, 0.0) AS score,
            ({had}) / 100.0 AS completeness
        FROM (
            SELECT account_id, {", ".join(f"r{i}, d{i}, {c[i]} AS c{i}" for i in w)}
            FROM (SELECT account_id, {raws} FROM {rollup_table} OFFSET 0) raw
            OFFSET 0
        ) components
        OFFSET 0
    ) scored
    LEFT JOIN LATERAL (
        SELECT p.id AS prev_id, p.score AS prev_score, p.model_id AS prev_model_id,
            p.breakdown AS prev_breakdown
        FROM bench_ref_healthscore p
        WHERE p.account_id = scored.account_id AND p.computed_at < %(as_of)s
        ORDER BY p.computed_at DESC, p.id DESC LIMIT 1
    ) prev ON true
    """
    return sql, {"run": run_id, "model": s.model.id, "as_of": as_of}


def events_sql(*, run_id: int, now: dt.datetime, drop_points: float) -> tuple:
    sql = """
    INSERT INTO bench_ref_scoreevent (kind, account_id, health_score_id, run_id, from_band_id,
        to_band_id, score_before, score_after, rebaseline, created_at)
    SELECT e.kind, h.account_id, h.id, h.run_id, ah.band_id, h.band_id, ah.score, h.score,
        FALSE, %(now)s
    FROM bench_ref_healthscore h
    JOIN bench_ref_accounthealth ah
        ON ah.account_id = h.account_id AND ah.computed_at < h.computed_at
    LEFT JOIN scoring_band ob ON ob.id = ah.band_id
    LEFT JOIN scoring_band nb ON nb.id = h.band_id
    CROSS JOIN LATERAL (VALUES
        ('band_changed', COALESCE(ob.name, '') <> COALESCE(nb.name, '')),
        ('score_dropped', ah.score - h.score >= %(drop)s)) e (kind, hit)
    WHERE h.run_id = %(run)s AND e.hit
    """
    return sql, {"run": run_id, "now": now, "drop": drop_points}


def latest_sql(*, run_id: int, as_of: dt.datetime) -> tuple:
    def previous(alias: str, param: str) -> str:
        return (
            f"LEFT JOIN LATERAL (SELECT p.score FROM bench_ref_healthscore p"
            f" WHERE p.account_id = h.account_id AND p.computed_at <= %({param})s"
            f" ORDER BY p.computed_at DESC LIMIT 1) {alias} ON true"
        )

    sql = f"""
    INSERT INTO bench_ref_accounthealth (account_id, health_score_id, model_id, score, band_id,
        level, pending_count, rebaseline, completeness, computed_at, trend_7d, trend_30d,
        trend_90d)
    SELECT h.account_id, h.id, h.model_id, h.score, h.band_id, '', 0, FALSE, h.completeness,
        h.computed_at,
        h.score - p7.score, h.score - p30.score, h.score - p90.score
    FROM bench_ref_healthscore h
    {previous("p7", "t7")} {previous("p30", "t30")} {previous("p90", "t90")}
    WHERE h.run_id = %(run)s
    ON CONFLICT (account_id) DO UPDATE SET health_score_id = excluded.health_score_id,
        model_id = excluded.model_id, score = excluded.score, band_id = excluded.band_id,
        completeness = excluded.completeness, computed_at = excluded.computed_at,
        trend_7d = excluded.trend_7d, trend_30d = excluded.trend_30d,
        trend_90d = excluded.trend_90d
    WHERE bench_ref_accounthealth.computed_at <= excluded.computed_at
    """
    params = {"run": run_id}
    for days in (7, 30, 90):
        params[f"t{days}"] = as_of - dt.timedelta(days=days)
    return sql, params


def recompute(
    cursor, s: Scenario, *, run_id: int, as_of: dt.datetime, now: dt.datetime, drop_points: float
) -> dict[str, float]:
    """The whole reference recompute in one transaction; seconds per step."""
    timings: dict[str, float] = {}

    def step(name: str, statement: tuple) -> None:
        started = time.perf_counter()
        cursor.execute(*statement)
        timings[name] = time.perf_counter() - started

    cursor.execute("BEGIN")
    step("roll-up", rollup_sql(s, table="bench_ref_rollup", as_of=as_of))
    step("history rows", score_sql(s, rollup_table="bench_ref_rollup", run_id=run_id, as_of=as_of))
    cursor.execute("DROP TABLE bench_ref_rollup")
    step("events", events_sql(run_id=run_id, now=now, drop_points=drop_points))
    step("latest + trends", latest_sql(run_id=run_id, as_of=as_of))
    step("commit", ("COMMIT",))
    return timings
