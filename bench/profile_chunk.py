#!/usr/bin/env python
"""Look inside the chunks of a recompute, on the data ``bench/recompute.py`` left behind.

    DATABASE_URL=... python bench/profile_chunk.py explain --skip 120
    DATABASE_URL=... python bench/profile_chunk.py split --chunks 16

``explain``: a new run is planned; the first ``--skip`` chunks are scored normally and
the next one under EXPLAIN (ANALYZE, BUFFERS, WAL), statement by statement; everything
is rolled back at the end. Skipping chunks matters: a plan that reads the rows of the
whole run so far only shows its cost late in the run.

``split``: the first ``--chunks`` chunks of a new run, each in its own transaction and
committed, timed in three parts: the statements, the deferred foreign-key checks
(``SET CONSTRAINTS ALL IMMEDIATE``) and the COMMIT, with the WAL each chunk wrote;
``synchronous_commit`` alternates on/off from chunk to chunk. This writes scores: run
``bench/recompute.py --reuse`` afterwards, which restores the saved state first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workers import django_setup

STATEMENTS = (
    "CREATE TEMP TABLE",
    "INSERT INTO SCORING_HEALTHSCORE",
    "UPDATE SCORING_HEALTHSCORE",
    "INSERT INTO SCORING_SCOREEVENT",
    "INSERT INTO SCORING_ACCOUNTHEALTH",
)


def explain(*, skip: int, chunk_size: int | None, days: int) -> None:
    from django.db import connection, transaction

    from bench.data import AS_OF
    from scoring.services import scoring_chunk_process, scoring_run_create

    def wrapper(execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(STATEMENTS):
            return execute(sql, params, many, context)
        execute("EXPLAIN (ANALYZE, BUFFERS, WAL) " + sql, params, many, context)
        print("=" * 100)
        print(sql[:100] + " …")
        print("\n".join(row[0] for row in context["cursor"].fetchall()))
        return None

    with transaction.atomic():
        run = scoring_run_create(as_of=AS_OF + dt.timedelta(days=days), chunk_size=chunk_size)
        chunks = list(run.chunks.order_by("index").values_list("id", flat=True))
        for chunk_id in chunks[:skip]:
            scoring_chunk_process(chunk_id=chunk_id)
        with connection.execute_wrapper(wrapper):
            scoring_chunk_process(chunk_id=chunks[skip])
        transaction.set_rollback(True)


def split(*, chunks: int, chunk_size: int | None, days: int) -> None:
    from django.db import connection, transaction

    from bench.data import AS_OF
    from scoring.models import ScoringRun
    from scoring.services import scoring_run_create
    from scoring.services.recompute import _score_range

    run = scoring_run_create(as_of=AS_OF + dt.timedelta(days=days), chunk_size=chunk_size)
    run = ScoringRun.objects.get(pk=run.pk)

    def wal_position() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            return cursor.fetchone()[0]

    for i, chunk in enumerate(run.chunks.order_by("index")[:chunks]):
        mode = "on" if i % 2 == 0 else "off"
        before = wal_position()
        started = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL synchronous_commit = {mode}")
            _score_range(run=run, first_id=chunk.first_account_id, last_id=chunk.last_account_id)
            statements = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            checks = time.perf_counter()
        committed = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [before])
            wal = float(cursor.fetchone()[0])
        print(
            f"chunk {i} (synchronous_commit {mode}): statements {statements - started:.3f} s,"
            f" foreign-key checks {checks - statements:.3f} s,"
            f" commit {committed - checks:.3f} s, WAL {wal / 1e6:.1f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["explain", "split"])
    parser.add_argument("--skip", type=int, default=120, help="explain: chunks scored first")
    parser.add_argument("--chunks", type=int, default=16, help="split: chunks to time")
    parser.add_argument("--chunk-size", type=int)
    parser.add_argument("--days", type=int, default=1, help="score this many days after the data")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to the benchmark's PostgreSQL database.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    django_setup()
    if args.mode == "explain":
        explain(skip=args.skip, chunk_size=args.chunk_size, days=args.days)
    else:
        split(chunks=args.chunks, chunk_size=args.chunk_size, days=args.days)


if __name__ == "__main__":
    main()
