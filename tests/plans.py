"""PostgreSQL's plan of a queryset, for the tests that hold a page's queries to an index."""

from __future__ import annotations

import json

from django.db import connection


def plan_of(queryset) -> dict:
    """The top node of the planner's plan for ``queryset``, with table scans ruled out for
    the rest of the transaction (as a large table would rule them out)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        (plan,) = cursor.fetchone()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
