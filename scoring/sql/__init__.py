"""The rules of ``scoring/engine.py`` compiled to SQL: the set-based fast path.

The recompute never brings account rows into Python. For a chunk of accounts
(``scoring/scorer.py`` drives it) it runs:

1. ``rollup.rollup_sql``: one pass over the chunk's signals, grouped by account,
   pivoting every metric the models use into a column of a temporary table, and
   choosing each account's model (``scoring/applicability.py``);
2. ``scores.score_insert_sql`` per model: component scores, score, band, completeness
   and breakdown computed in SQL, the confirmed band decided by flap control, and
   inserted as history rows (``scores.score_select_sql`` is the same without the
   INSERT, for previews and what-ifs);
3. the event and latest-score statements in ``scoring/services/chunks.py``.

Every expression keeps the reference's order of floating-point operations, so the two
give the same numbers on PostgreSQL and SQLite alike (``tests/scoring/test_properties.py``
compares them to 1e-9). Values reach the SQL as bound parameters, never pasted into it,
except ids and column names, which are integers and identifiers we generate.

This module: the statement builder and the two databases' differences.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection


class Sql:
    """A statement under construction: text and its parameters, in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list = []

    def add(self, text: str, *params) -> Sql:
        self.parts.append(text)
        self.params.extend(params)
        return self

    @property
    def text(self) -> str:
        return "".join(self.parts)


def vendor() -> str:
    """The database the default connection speaks: "postgresql" or "sqlite"."""
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def ts(vendor: str, value: dt.datetime):
    """A timestamp parameter: aware datetimes for PostgreSQL; SQLite stores Django's text form."""
    if vendor == "postgresql":
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


def days_between(vendor: str, later_param: str, earlier_expr: str) -> str:
    if vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later_param} - {earlier_expr}))::float8 / 86400.0)"
    # Whole seconds, as integers: julianday() arithmetic would drift in the last digits.
    return (
        f"(CAST(strftime('%%s', {later_param}) AS INTEGER)"
        f" - CAST(strftime('%%s', {earlier_expr}) AS INTEGER)) / 86400.0"
    )


def fence(vendor: str) -> str:
    """PostgreSQL flattens nested sub-selects and then evaluates each component's
    expression once per mention (score, weights, completeness, breakdown); OFFSET 0
    keeps every level a step of its own, so that each value is computed once."""
    return " OFFSET 0" if vendor == "postgresql" else ""


def id_ranges(queryset, size: int) -> list[tuple[int, int, int]]:
    """``(first id, last id, count)`` of consecutive slices of ``size`` rows of ``queryset``
    in id order: the chunks a run (or a what-if) works through, in one set-based query."""
    inner, params = queryset.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id), count(*) FROM ("
            f"SELECT id, (row_number() OVER (ORDER BY id) - 1) / %s AS bucket FROM ({inner}) ids"
            ") t GROUP BY bucket ORDER BY bucket",
            [size, *params],
        )
        return cursor.fetchall()


# Most accounts were scored within this many days of any moment the recompute looks
# back to: the lookup of the latest score before it tries this stretch first.
RECENT_DAYS = 35


def latest_score_sql(
    vendor: str, *, column: str, account: str, moment: dt.datetime, inclusive: bool
) -> Sql:
    """A scalar sub-select: ``column`` of account ``account``'s latest score at (or, not
    ``inclusive``, before) ``moment``, the higher id on a tie.

    On PostgreSQL the history is partitioned by month (``scoring.partitions``) and an
    unbounded "latest before" probes every partition's index. The stretch of
    ``RECENT_DAYS`` before the moment is looked up first, which the planner confines to
    its one or two partitions; only an account with no score in it is looked up again
    over the whole history. ``UNION ALL … LIMIT 1`` runs the second branch only when
    the first found nothing, so the answer is the same as the single lookup's."""
    op = "<=" if inclusive else "<"
    at = ts(vendor, moment)
    lookup = (
        f"SELECT p.{column} AS v FROM scoring_healthscore p WHERE p.account_id = {account}"
        f" AND p.computed_at {op} %s{{recent}} ORDER BY p.computed_at DESC, p.id DESC LIMIT 1"
    )
    if vendor != "postgresql":
        return Sql().add(f"({lookup.format(recent='')})", at)
    return Sql().add(
        f"(SELECT u.v FROM (({lookup.format(recent=' AND p.computed_at > %s')})"
        f" UNION ALL ({lookup.format(recent='')})) u LIMIT 1)",
        at,
        ts(vendor, moment - dt.timedelta(days=RECENT_DAYS)),
        at,
    )
