"""Score history partitioned by month on PostgreSQL.

``scoring_healthscore`` is a declaratively partitioned table (``PARTITION BY RANGE
(computed_at)``) with one partition per calendar month in UTC, named
``scoring_healthscore_pYYYYMM``, and a default partition ``scoring_healthscore_default``
that takes any row whose month has no partition, so that a write never fails.

- ``history_partitions_ensure`` creates the partitions of the current month and
  ``VITALS_HISTORY_PARTITIONS_AHEAD`` months ahead (the scheduled job
  ``scoring.tasks.maintain_history`` runs it daily; ``manage.py history_partitions`` by
  hand). A month whose rows already went to the default partition (the job had stopped)
  gets its partition all the same: the rows are moved out of the default partition into
  the new one in the same transaction, under a lock that keeps writers from adding more
  meanwhile.
- What partitioning implies for the schema: the primary key is ``(id, computed_at)``
  and the one-score-per-run constraint is ``(run, account, computed_at)`` (a run writes
  every score at its own as-of, so it is the same rule). A foreign key *to* the table
  would need a unique key on ``id`` alone, which a partitioned table cannot have: the
  latest health and the score events point at history rows with ``db_constraint=False``
  (``scoring.models.results``); the recompute writes them from the history rows it has
  just inserted in the same transaction, compaction never removes a row they point at
  (``scoring.services.history``), and deleting an account deletes all three through
  Django's cascade. ``tests/scoring/test_partitions.py`` holds that integrity.

SQLite (the embedded default) keeps one plain table: every function here does nothing
there.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

TABLE = "scoring_healthscore"
DEFAULT = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})(\d{{2}})$")


@dataclass(frozen=True)
class Partition:
    name: str
    # None for the default partition.
    start: dt.datetime | None
    end: dt.datetime | None
    rows: int | None = None


def is_partitioned() -> bool:
    """Whether the history table is partitioned (PostgreSQL after the migration)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE]
        )
        return cursor.fetchone() is not None


def month_start(moment: dt.datetime) -> dt.datetime:
    """The start (UTC) of the month ``moment`` falls in."""
    utc = moment.astimezone(dt.UTC)
    return dt.datetime(utc.year, utc.month, 1, tzinfo=dt.UTC)


def next_month(start: dt.datetime) -> dt.datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def partition_name(start: dt.datetime) -> str:
    return f"{TABLE}_p{start:%Y%m}"


def history_partitions(*, counts: bool = False) -> list[Partition]:
    """The partitions of the history table, oldest first, the default partition last
    (``pg_inherits``); ``counts``: with their exact row counts. Empty on SQLite."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
        found = []
        for name in names:
            rows = None
            if counts:
                cursor.execute(f'SELECT count(*) FROM "{name}"')
                rows = cursor.fetchone()[0]
            match = _NAME.match(name)
            if match:
                start = dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC)
                found.append(Partition(name, start, next_month(start), rows))
            else:
                found.append(Partition(name, None, None, rows))
    return sorted(found, key=lambda p: (p.start is None, p.start or dt.datetime.min))


def _create(cursor, start: dt.datetime) -> None:
    """The partition of the month beginning ``start``, with the rows of that month the
    default partition holds moved into it."""
    name, end = partition_name(start), next_month(start)
    bounds = f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    # Writers of that month's rows wait for this transaction rather than add rows to
    # the default partition that the new partition's bounds would then contradict.
    cursor.execute(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(
        f"SELECT 1 FROM {DEFAULT} WHERE computed_at >= %s AND computed_at < %s LIMIT 1",
        [start, end],
    )
    if cursor.fetchone() is None:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES {bounds}")
        return
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE computed_at >= %s AND computed_at < %s"
        f" RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        [start, end],
    )
    # Attaching builds the partitioned indexes and the foreign keys on the new table.
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES {bounds}")


def history_partitions_ensure(
    *, now: dt.datetime, ahead: int | None = None, since: dt.datetime | None = None
) -> list[str]:
    """Create the monthly partitions from ``since`` (default: the month of ``now``) to
    ``ahead`` months after ``now``'s (default ``VITALS_HISTORY_PARTITIONS_AHEAD``) that do
    not exist yet; returns their names. Idempotent; one transaction per partition."""
    if not is_partitioned():
        return []
    ahead = settings.VITALS_HISTORY_PARTITIONS_AHEAD if ahead is None else ahead
    existing = {p.name for p in history_partitions()}
    start = month_start(since or now)
    last = month_start(now)
    for _ in range(ahead):
        last = next_month(last)
    months = []
    while start <= last:
        months.append(start)
        start = next_month(start)
    # Months whose rows went to the default partition while no job made theirs.
    months += history_partitions_default_months()
    created = []
    for start in sorted(set(months)):
        name = partition_name(start)
        if name not in existing:
            with transaction.atomic(), connection.cursor() as cursor:
                _create(cursor, start)
            created.append(name)
    return created


def history_partitions_default_months() -> list[dt.datetime]:
    """The months whose rows sit in the default partition (their partition is missing)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', computed_at AT TIME ZONE 'UTC') FROM {DEFAULT}"
            " ORDER BY 1"
        )
        return [month.replace(tzinfo=dt.UTC) for (month,) in cursor.fetchall()]


def history_partitions_drop(*, names: list[str]) -> None:
    """Drop whole monthly partitions (compaction's fast path: months past every tier
    of the retention policy). The caller has made sure nothing points at their rows."""
    with connection.cursor() as cursor:
        if names:
            # Deferred foreign-key checks of rows written earlier in the same transaction
            # would keep the table from being dropped: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in names:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a monthly partition of {TABLE}")
            cursor.execute(f"DROP TABLE {name}")
