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
