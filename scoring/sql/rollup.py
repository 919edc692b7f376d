"""The roll-up: every metric the models read, rolled up per account into one row of a
temporary table, with the model that scores the account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.selectors import customers_sql
from scoring import applicability
from scoring.applicability import ModelFilter
from scoring.sql import Sql, days_between, ts


@dataclass(frozen=True)
class MetricColumn:
    """A metric rolled up one way, and the name of its column in the roll-up table.

    A metric's roll-up belongs to each model version that uses it (the version keeps the
    definition it was activated with), so two versions may roll the same metric up over
    different windows: one column each."""

    id: int
    key: str
    rollup: str
    window_days: int

    @property
    def column(self) -> str:
        window = self.window_days if self.rollup not in ("latest", "days_since") else 0
        return f"m{self.id}_{self.rollup}_{window}"

    @property
    def definition(self) -> tuple[int, str, int]:
        return (self.id, self.rollup, self.window_days)


def metric_column(component) -> MetricColumn:
    """The roll-up column a scoring component reads (``select_related("metric")``)."""
    return MetricColumn(
        component.metric_id, component.metric.key, component.rollup, component.window_days
    )


def rollup_sql(
    *,
    vendor: str,
    table: str,
    metrics: list[MetricColumn],
    filters: list[ModelFilter],
    as_of: dt.datetime,
    first_id: int,
    last_id: int,
    segment: str = "",
    account_ids: list[int] | None = None,
) -> Sql:
    """CREATE TEMP TABLE ``table`` (account_id, model_id, one column per metric).

    ``account_ids`` narrows the id range to those accounts (a preview's sample)."""
    sql = Sql()
    as_of_p = ts(vendor, as_of)
    sql.add(f"CREATE TEMP TABLE {table} AS SELECT a.id AS account_id, ")
    applicability.choice_sql(filters, sql)
    sql.add(" AS model_id")

    # The earliest timestamp any roll-up can look at; latest/days_since look at all history.
    needs_all_history = any(m.rollup in ("latest", "days_since") for m in metrics)
    horizon_days = max(
        [m.window_days * (2 if m.rollup == "change_pct" else 1) for m in metrics] or [0]
    )

    for m in metrics:
        col = m.column
        if m.rollup == "latest":
            if vendor == "postgresql":
                sql.add(
                    ", (max(ARRAY[EXTRACT(EPOCH FROM s.timestamp)::float8, s.id::float8, s.value])"
                    f" FILTER (WHERE s.metric_id = {int(m.id)}))[3] AS {col}"
                )
            else:
                sql.add(
                    f", (SELECT s2.value FROM scoring_signal s2 WHERE s2.account_id = a.id"
                    f" AND s2.metric_id = {int(m.id)} AND s2.timestamp < %s"
                    f" ORDER BY s2.timestamp DESC, s2.id DESC LIMIT 1) AS {col}",
                    as_of_p,
                )
            continue
        if m.rollup == "days_since":
            newest = f"max(CASE WHEN s.metric_id = {int(m.id)} THEN s.timestamp END)"
            sql.add(f", {days_between(vendor, '%s', newest)} AS {col}", as_of_p)
            continue
        window_start = ts(vendor, as_of - dt.timedelta(days=m.window_days))
        in_window = f"s.metric_id = {int(m.id)} AND s.timestamp >= %s"
        if m.rollup == "count":
            sql.add(
                f", CAST(count(CASE WHEN {in_window} THEN 1 END) AS REAL) AS {col}", window_start
            )
        elif m.rollup in ("sum", "avg", "min", "max"):
            if m.rollup == "avg":
                # sum / count rather than avg(): the same operations as the reference.
                sql.add(
                    f", sum(CASE WHEN {in_window} THEN s.value END)"
                    f" / count(CASE WHEN {in_window} THEN 1 END) AS {col}",
                    window_start,
                    window_start,
                )
            else:
                sql.add(
                    f", {m.rollup}(CASE WHEN {in_window} THEN s.value END) AS {col}", window_start
                )
        elif m.rollup == "change_pct":
            previous_start = ts(vendor, as_of - dt.timedelta(days=2 * m.window_days))
            prev = (
                f"sum(CASE WHEN s.metric_id = {int(m.id)} AND s.timestamp >= %s"
                f" AND s.timestamp < %s THEN s.value END)"
            )
            cur = f"COALESCE(sum(CASE WHEN {in_window} THEN s.value END), 0.0)"
            sql.add(
                f", ({cur} - {prev}) / abs(NULLIF({prev}, 0.0)) * 100.0 AS {col}",
                window_start,
                previous_start,
                window_start,
                previous_start,
                window_start,
            )
        else:
            raise ValueError(f"unknown roll-up {m.rollup!r}")

    sql.add(" FROM accounts_account a LEFT JOIN scoring_signal s ON s.account_id = a.id")
    # The chunk's id range, stated on the signals too: without it the planner cannot see
    # that only a slice of the signal index is needed, and may read the whole table for
    # every chunk (a hash join over a sequential scan).
    sql.add(" AND s.account_id >= %s AND s.account_id <= %s", first_id, last_id)
    sql.add(" AND s.timestamp < %s", as_of_p)
    if metrics:
        ids = ", ".join(str(int(m.id)) for m in metrics)
        sql.add(f" AND s.metric_id IN ({ids})")
    else:
        sql.add(" AND 1 = 0")
    if metrics and not needs_all_history:
        sql.add(" AND s.timestamp >= %s", ts(vendor, as_of - dt.timedelta(days=horizon_days)))
    sql.add(" WHERE a.id >= %s AND a.id <= %s", first_id, last_id)
    if account_ids is not None:
        sql.add(f" AND a.id IN ({', '.join(str(int(i)) for i in account_ids) or 'NULL'})")
    # Accounts that had left before the moment scored are not scored.
    sql.add(f" AND {customers_sql('a')}", as_of.date())
    if segment:
        sql.add(" AND a.segment = %s", segment)
    sql.add(" GROUP BY a.id, a.segment, a.plan, a.lifecycle_stage")
    return sql
