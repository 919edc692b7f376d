"""Processes of the benchmark: recompute workers, the reference runner, the roll-up runner.

Each is a fresh process (multiprocessing "spawn") with its own Django set-up and its own
database connection, so its memory is its own: the peak resident set (``VmHWM``) it
reports is what a worker of that kind needs. Each also reports the peak of the
PostgreSQL backend serving it, read from ``/proc`` on this machine.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def proc_status(pid: int) -> dict[str, int]:
    """Memory figures of a process in kB (VmRSS, VmHWM, RssAnon, ...); {} once it is gone."""
    figures = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key.startswith(("Vm", "Rss")):
                    figures[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return figures


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def step_of(sql: str) -> str:
    head = sql.lstrip()[:60].upper()
    if head.startswith("CREATE TEMP TABLE"):
        return "roll-up"
    if head.startswith("INSERT INTO SCORING_HEALTHSCORE"):
        return "history rows"
    if head.startswith("UPDATE SCORING_HEALTHSCORE SET DELTA"):
        return "history deltas"
    if head.startswith("INSERT INTO SCORING_SCOREEVENT"):
        return "events"
    if head.startswith("INSERT INTO SCORING_ACCOUNTHEALTH"):
        return "latest + trends"
    if head.startswith('UPDATE "SCORING_SCORINGRUN" SET "CHUNKS_DONE"'):
        # Waits while another chunk holds the run row, i.e. until that chunk commits.
        return "run counters"
    return "bookkeeping queries"


def _memory_report(backend: int) -> dict:
    mine = proc_status(os.getpid())
    theirs = proc_status(backend)
    return {
        "pid": os.getpid(),
        "backend_pid": backend,
        "peak_rss_kb": mine.get("VmHWM", 0),
        "backend_peak_rss_kb": theirs.get("VmHWM", 0),
    }


def recompute_worker(jobs, results) -> None:
    """Claim chunks of a run, one at a time, and score them until none is left.

    A chunk is claimed with a conditional update (``FOR UPDATE SKIP LOCKED``), as a
    queue of chunk tasks would hand them out; ``scoring_chunk_process`` does the rest.
    """
    django_setup()
    from django.db import connection

    from scoring.services import scoring_chunk_process

    steps: dict[str, float] = defaultdict(float)

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            steps[step_of(sql)] += time.perf_counter() - started

    backend = _backend_pid()
    results.put(("ready", os.getpid(), backend))
    run_id = jobs.get()
    chunks, chunk_seconds = 0, 0.0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE scoring_scoringrunchunk SET dispatched_at = now() WHERE id = ("
                " SELECT id FROM scoring_scoringrunchunk WHERE run_id = %s"
                " AND dispatched_at IS NULL AND NOT done ORDER BY index LIMIT 1"
                " FOR UPDATE SKIP LOCKED) RETURNING id",
                [run_id],
            )
            row = cursor.fetchone()
        if row is None:
            break
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            scoring_chunk_process(chunk_id=row[0])
        chunk_seconds += time.perf_counter() - started
        chunks += 1
    # What the statements do not account for: the commit (where the deferred
    # foreign-key checks run) and the Python around the SQL.
    steps["commit and Python"] = chunk_seconds - sum(steps.values())
    report = {
        "chunks": chunks,
        "chunk_seconds": chunk_seconds,
        "steps": dict(steps),
        **_memory_report(backend),
    }
    results.put(("done", os.getpid(), report))
    connection.close()


def reference_worker(jobs, results) -> None:
    """Run the hand-written reference recompute once, in one transaction."""
    django_setup()
    from django.conf import settings
    from django.db import connection

    from bench import reference
    from bench.recompute import load_scenario

    backend = _backend_pid()
    results.put(("ready", os.getpid(), backend))
    job = jobs.get()
    scenario = load_scenario()
    with connection.cursor() as cursor:
        steps = reference.recompute(
            cursor,
            scenario,
            run_id=job["run_id"],
            as_of=job["as_of"],
            now=job["now"],
            drop_points=settings.VITALS_SCORE_DROP_POINTS,
        )
    results.put(("done", os.getpid(), {"steps": steps, **_memory_report(backend)}))
    connection.close()


def rollup_worker(jobs, results) -> None:
    """Time our roll-up statement over all accounts against the reference roll-up, then
    compare the two tables value by value."""
    django_setup()
    from django.db import connection

    from bench import reference
    from bench.recompute import load_scenario, our_rollup_sql

    backend = _backend_pid()
    results.put(("ready", os.getpid(), backend))
    job = jobs.get()
    scenario = load_scenario()
    as_of = job["as_of"]
    timings: dict[str, list[float]] = {"ours": [], "reference": []}
    with connection.cursor() as cursor:
        for attempt in range(job["repeat"] + 1):  # the first round warms up
            for side in ("ours", "reference"):
                table = f"bench_rollup_{side}"
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                if side == "ours":
                    sql = our_rollup_sql(table=table, as_of=as_of)
                    statement = (sql.text, sql.params)
                else:
                    statement = reference.rollup_sql(scenario, table=table, as_of=as_of)
                started = time.perf_counter()
                cursor.execute(*statement)
                elapsed = time.perf_counter() - started
                if attempt:
                    timings[side].append(elapsed)
        # Ours names a column by metric, roll-up and window (scoring.sql.rollup), the
        # reference by metric alone: each of ours beside the reference's of its metric.
        from scoring.models import ScoringModel
        from scoring.scorer import Scorer

        ours = Scorer(models=ScoringModel.objects.filter(status="active").order_by("id"))
        differs = " OR ".join(
            f"bench_differs(o.{column.column}, r.m{column.id})" for column in ours.columns.values()
        )
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE o.account_id IS NULL"
            f" OR r.account_id IS NULL OR {differs})"
            " FROM bench_rollup_ours o FULL JOIN bench_rollup_reference r"
            " ON r.account_id = o.account_id"
        )
        rows, mismatches = cursor.fetchone()
    results.put(
        (
            "done",
            os.getpid(),
            {"timings": timings, "rows": rows, "mismatches": mismatches, **_memory_report(backend)},
        )
    )
    connection.close()
