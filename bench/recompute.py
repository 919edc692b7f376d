#!/usr/bin/env python
"""Speed and memory of the nightly recompute on PostgreSQL, beside a hand-written
pure-SQL reference that computes the same scores on the same data in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitals_bench \\
        python bench/recompute.py --accounts 1000000 --signals 10000000
    DATABASE_URL=... python bench/recompute.py --sizes 10000,100000,1000000

For each size:

1. data: accounts and raw signals generated in PostgreSQL (``bench/data.py``), the
   eight metrics and the weighted model created through the ORM; VACUUM ANALYZE;
2. the previous nights: the real recompute scores the night before (this is also the
   first measurement: a run into an empty latest-score table), and two older nights are
   copied from it, so that 7- and 30-day trends find a score; this state is saved and
   restored before every measured run, for our tables and the reference's alike;
3. a warm-up of both, then the measured runs: ours (``scoring_run_create`` and the
   chunks processed by ``--workers`` worker processes calling ``scoring_chunk_process``)
   and the reference (``bench/reference.py``, one transaction), each with wall time,
   accounts/s and peak memory; then the two results are compared row by row;
4. the roll-up alone: our ``scoring.sql.rollup.rollup_sql`` over all accounts in one statement
   against the reference roll-up, compared value by value.

The results are printed as Markdown and written into docs/benchmarks.md between the
markers of their mode (``--docs ''`` to skip). ``--reuse`` keeps the data of an earlier
run of the same size (the data and the saved nights are in ``bench_meta``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workers import django_setup, proc_status  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
SPAWN = multiprocessing.get_context("spawn")


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- Scenario and SQL shared with the worker processes ------------------------------------


def load_scenario():
    from bench.data import Scenario
    from scoring.models import Metric, ScoringModel

    model = ScoringModel.objects.get(key="health", status="active")
    metrics = {m.key: m for m in Metric.objects.all()}
    bands = {b.name: b for b in model.bands.all()}
    return Scenario(model=model, metrics=metrics, bands=bands)


def our_rollup_sql(*, table: str, as_of: dt.datetime):
    """Our roll-up statement exactly as a chunk builds it, over every account at once."""
    from accounts.models import Account
    from scoring.models import ScoringModel
    from scoring.scorer import Scorer
    from scoring.sql.rollup import rollup_sql

    scorer = Scorer(models=ScoringModel.objects.filter(status="active").order_by("id"))
    bounds = Account.objects.order_by("id").values_list("id", flat=True)
    return rollup_sql(
        vendor="postgresql",
        table=table,
        metrics=list(scorer.columns.values()),
        filters=scorer.choice,
        as_of=as_of,
        first_id=bounds.first(),
        last_id=bounds.last(),
    )


# --- Measuring processes ------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Samples the resident memory of some processes every 100 ms; keeps the peaks.

    ``pids`` is a list, or a function returning the processes to watch (called again
    every 250 ms: a Celery pool's processes and their database backends come and go)."""

    def __init__(self, pids) -> None:
        super().__init__(daemon=True)
        self.discover = pids if callable(pids) else (lambda: pids)
        self.peaks: dict[int, dict[str, int]] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        pids, discovered = [], 0.0
        while not self.stopped.wait(0.1):
            if time.monotonic() - discovered > 0.25:
                pids, discovered = list(self.discover()), time.monotonic()
            for pid in pids:
                status = proc_status(pid)
                peaks = self.peaks.setdefault(pid, {})
                for key in ("VmRSS", "RssAnon"):
                    if key in status:
                        peaks[key] = max(peaks.get(key, 0), status[key])

    def stop(self) -> dict[int, dict[str, int]]:
        self.stopped.set()
        self.join()
        return self.peaks


def _start(target, count: int):
    """Start ``count`` processes of ``target`` and wait until each is connected."""
    jobs = [SPAWN.Queue() for _ in range(count)]
    results = SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(jobs[i], results)) for i in range(count)]
    for p in processes:
        p.start()
    backends = {}
    for _ in processes:
        kind, pid, backend = results.get(timeout=300)
        assert kind == "ready", kind
        backends[pid] = backend
    return processes, jobs, results, backends


def _finish(processes, results) -> list[dict]:
    reports = []
    while len(reports) < len(processes):
        try:
            kind, _pid, report = results.get(timeout=1)
        except queue.Empty:
            if any(p.exitcode for p in processes):
                raise SystemExit("a benchmark process failed: see its traceback above") from None
            continue
        assert kind == "done", kind
        reports.append(report)
    for p in processes:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a benchmark process failed (exit code {p.exitcode})")
    return reports


def _memory(reports: list[dict], peaks: dict[int, dict[str, int]], backends=None) -> dict:
    """Peaks: of the worker processes (their own VmHWM), of their PostgreSQL backends
    (VmHWM, which counts the shared buffers they touched, and the sampled private part)."""
    if backends is None:
        backends = [r["backend_pid"] for r in reports]
    return {
        "worker_peak_rss_mb": max(r["peak_rss_kb"] for r in reports) / 1024,
        "backend_peak_rss_mb": max(r["backend_peak_rss_kb"] for r in reports) / 1024,
        "backend_peak_private_mb": max(
            [peaks.get(pid, {}).get("RssAnon", 0) for pid in backends] or [0]
        )
        / 1024,
    }


def _backends(*, exclude: int) -> list[int]:
    """The PostgreSQL backends serving the benchmark's database, except ``exclude``."""
    from django.db import connection

    marker = f" {connection.settings_dict['NAME']} ".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == exclude:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and marker in cmdline:
            pids.append(int(entry))
    return pids


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _steps_total(reports: list[dict]) -> dict[str, float]:
    steps: dict[str, float] = {}
    for r in reports:
        for step, seconds in r["steps"].items():
            steps[step] = steps.get(step, 0.0) + seconds
    return steps


def _run_result(*, run_id: int, label: str, wall: float, load_before: str, extra: dict) -> dict:
    from scoring.models import ScoringRun

    run = ScoringRun.objects.get(pk=run_id)
    if run.status != ScoringRun.Status.SUCCEEDED:
        raise SystemExit(f"run {run.pk} ended {run.status}: {run.errors}")
    result = {
        "label": label,
        "run_id": run.pk,
        "wall_s": wall,
        "accounts": run.accounts_scored,
        "accounts_per_s": run.accounts_scored / wall,
        "chunks": run.chunks_total,
        "chunk_size": run.chunk_size,
        "band_changes": run.band_changes,
        "score_drops": run.score_drops,
        "load_before": load_before,
        "load_after": loadavg(),
        **extra,
    }
    _log(
        f"{label}: {wall:.1f} s, {result['accounts_per_s']:,.0f} accounts/s,"
        f" worker peak {result['worker_peak_rss_mb']:.0f} MB, load {load_before}"
    )
    return result


def run_ours(
    *, as_of: dt.datetime, workers: int, chunk_size: int | None, label: str, executor: str
) -> dict:
    if executor == "celery":
        return _run_ours_celery(as_of=as_of, workers=workers, chunk_size=chunk_size, label=label)
    return _run_ours_processes(as_of=as_of, workers=workers, chunk_size=chunk_size, label=label)


def _run_ours_celery(*, as_of: dt.datetime, workers: int, chunk_size: int | None, label: str):
    """The real recompute as it runs at night: ``scoring_run_create``, then
    ``scoring_run_dispatch`` sends one task per chunk to a real Celery worker
    (``--concurrency workers``, prefork) on its own queue; done when the run succeeds."""
    from django.db import connection

    from config.celery import app
    from scoring.models import ScoringRun
    from scoring.services import scoring_run_create
    from scoring.tasks import scoring_run_dispatch

    profile_dir = Path(tempfile.mkdtemp(prefix="vitals-bench-"))
    queue_name = f"bench-{uuid.uuid4().hex[:10]}"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        CELERY_QUEUE=queue_name,
        BENCH_PROFILE_DIR=str(profile_dir),
    )
    with open(profile_dir / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(workers),
                "--queues",
                queue_name,
                "--include",
                "bench.celery_profile",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"{queue_name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not (profile_dir / "ready").exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Celery worker did not start: see {profile_dir}/worker.log")
            time.sleep(0.1)
        previous_queue = app.conf.task_default_queue
        app.conf.task_default_queue = queue_name
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            own_backend = cursor.fetchone()[0]
        backends: set[int] = set()

        def discover() -> list[int]:
            found = _backends(exclude=own_backend)
            backends.update(found)
            return [worker.pid, *_children(worker.pid), *found]

        sampler = Sampler(discover)
        sampler.start()
        load_before = loadavg()
        started = time.perf_counter()
        run = scoring_run_create(as_of=as_of, trigger="bench", chunk_size=chunk_size)
        scoring_run_dispatch(run.pk)
        open_states = (ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING)
        while ScoringRun.objects.filter(pk=run.pk, status__in=open_states).exists():
            if worker.poll() is not None:
                raise SystemExit(f"the Celery worker stopped: see {profile_dir}/worker.log")
            time.sleep(0.05)
        wall = time.perf_counter() - started
        peaks = sampler.stop()
        app.conf.task_default_queue = previous_queue
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
    reports = [json.loads(p.read_text()) for p in profile_dir.glob("worker-*.json")]
    if not reports:
        raise SystemExit(f"no chunk was profiled: see {profile_dir}/worker.log")
    extra = {
        "executor": f"Celery worker, prefork, concurrency {workers}",
        "steps_worker_s": _steps_total(reports),
        "chunks_per_process": [r["chunks"] for r in reports],
        "worker_main_peak_rss_mb": peaks.get(worker.pid, {}).get("VmRSS", 0) / 1024,
        "worker_all_processes_peak_rss_mb": (
            peaks.get(worker.pid, {}).get("VmRSS", 0) + sum(r["peak_rss_kb"] for r in reports)
        )
        / 1024,
        **_memory(reports, peaks, backends=sorted(backends)),
    }
    return _run_result(run_id=run.pk, label=label, wall=wall, load_before=load_before, extra=extra)


def _run_ours_processes(*, as_of: dt.datetime, workers: int, chunk_size: int | None, label: str):
    """The real recompute with plain worker processes claiming chunks themselves."""
    from bench.workers import recompute_worker
    from scoring.services import scoring_run_create

    processes, jobs, results, backends = _start(recompute_worker, workers)
    sampler = Sampler([*backends, *backends.values()])
    sampler.start()
    load_before = loadavg()
    started = time.perf_counter()
    run = scoring_run_create(as_of=as_of, trigger="bench", chunk_size=chunk_size)
    for job_queue in jobs:
        job_queue.put(run.pk)
    reports = _finish(processes, results)
    wall = time.perf_counter() - started
    peaks = sampler.stop()
    extra = {
        "executor": f"{workers} worker processes claiming chunks",
        "steps_worker_s": _steps_total(reports),
        "chunks_per_process": [r["chunks"] for r in reports],
        **_memory(reports, peaks),
    }
    return _run_result(run_id=run.pk, label=label, wall=wall, load_before=load_before, extra=extra)


def run_reference(*, as_of: dt.datetime, label: str) -> dict:
    from bench.workers import reference_worker
    from scoring.models import ScoringRun

    run = ScoringRun.objects.create(
        as_of=as_of, trigger="bench-reference", status=ScoringRun.Status.SUCCEEDED
    )
    processes, jobs, results, backends = _start(reference_worker, 1)
    sampler = Sampler([*backends, *backends.values()])
    sampler.start()
    load_before = loadavg()
    started = time.perf_counter()
    jobs[0].put({"run_id": run.pk, "as_of": as_of, "now": as_of})
    reports = _finish(processes, results)
    wall = time.perf_counter() - started
    peaks = sampler.stop()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_ref_healthscore WHERE run_id = %s", [run.pk])
        scored = cursor.fetchone()[0]
    result = {
        "label": label,
        "run_id": run.pk,
        "wall_s": wall,
        "accounts": scored,
        "accounts_per_s": scored / wall,
        "steps_s": reports[0]["steps"],
        "load_before": load_before,
        "load_after": loadavg(),
        **_memory(reports, peaks),
    }
    _log(
        f"{label}: {wall:.1f} s, {result['accounts_per_s']:,.0f} accounts/s,"
        f" process peak {result['worker_peak_rss_mb']:.0f} MB, load {load_before}"
    )
    return result


def run_rollups(*, as_of: dt.datetime, repeat: int) -> dict:
    from bench.workers import rollup_worker

    processes, jobs, results, backends = _start(rollup_worker, 1)
    sampler = Sampler([*backends, *backends.values()])
    sampler.start()
    load_before = loadavg()
    jobs[0].put({"as_of": as_of, "repeat": repeat})
    report = _finish(processes, results)[0]
    sampler.stop()
    result = {
        "ours_s": report["timings"]["ours"],
        "reference_s": report["timings"]["reference"],
        "rows": report["rows"],
        "mismatches": report["mismatches"],
        "load_before": load_before,
        "load_after": loadavg(),
    }
    _log(
        f"roll-up alone: ours {result['ours_s']}, reference {result['reference_s']},"
        f" mismatches {report['mismatches']} of {report['rows']} rows"
    )
    return result


# --- State: data, previous nights, reset ---------------------------------------------------------

OURS = {
    "history": "scoring_healthscore",
    "latest": "scoring_accounthealth",
    "events": "scoring_scoreevent",
}
REF = {
    "history": "bench_ref_healthscore",
    "latest": "bench_ref_accounthealth",
    "events": "bench_ref_scoreevent",
}
PRIOR = {
    "history": "bench_prior_healthscore",
    "latest": "bench_prior_accounthealth",
    "events": "bench_prior_scoreevent",
}


def _sql(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if cursor.description:
            return cursor.fetchall()
    return None


def _meta(key: str) -> str | None:
    rows = _sql("SELECT value FROM bench_meta WHERE key = %s", [key])
    return rows[0][0] if rows else None


def _set_meta(key: str, value: str) -> None:
    _sql(
        "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = %s",
        [key, value, value],
    )


def prepare(
    *,
    accounts: int,
    signals: int,
    workers: int,
    chunk_size: int | None,
    reuse: bool,
    executor: str,
):
    """Data and the saved previous nights; returns the first-night measurement if made."""
    from bench import data

    _sql("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    fingerprint = f"accounts={accounts} signals={signals} seed={data.SEED} as_of={data.AS_OF}"
    if reuse and _meta("dataset") == fingerprint:
        _log(f"reusing the data of an earlier run ({fingerprint})")
        first_night = json.loads(_meta("first_night") or "null")
        return first_night, None
    _sql("DELETE FROM bench_meta")
    _sql(
        "CREATE OR REPLACE FUNCTION bench_differs(a float8, b float8) RETURNS boolean"
        " LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL"
        " THEN (a IS NULL) <> (b IS NULL)"
        " ELSE abs(a - b) > 1e-9 * greatest(1.0, abs(a), abs(b)) END $$"
    )
    _log(f"generating {accounts:,} accounts and {signals:,} signals (disk: {_disk()})")
    started = time.perf_counter()
    data.wipe()
    scenario = data.create_model()
    data.generate_accounts(count=accounts)
    data.generate_signals(accounts=accounts, count=signals, metrics=scenario.metrics)
    data.vacuum_analyze("accounts_account", "scoring_signal")
    generation_s = time.perf_counter() - started
    _log(f"data ready in {generation_s:.0f} s")

    # Last night, scored by the real recompute into empty history and latest tables.
    first_night = run_ours(
        as_of=data.AS_OF - dt.timedelta(days=1),
        workers=workers,
        chunk_size=chunk_size,
        label="first night (empty latest table)",
        executor=executor,
    )
    _older_nights(scenario, source_run=first_night["run_id"])
    for table in OURS.values():
        _sql(f"VACUUM ANALYZE {table}")
    for kind, table in PRIOR.items():
        _sql(f"DROP TABLE IF EXISTS {table}")
        _sql(f"CREATE TABLE {table} AS SELECT * FROM {OURS[kind]}")
    _set_meta("dataset", fingerprint)
    _set_meta("first_night", json.dumps(first_night))
    _set_meta("generation_s", f"{generation_s:.1f}")
    return first_night, generation_s


def _older_nights(scenario, *, source_run: int) -> None:
    """Nights 8 and 31 days ago: last night's rows moved back in time, scores shifted by a
    seeded random amount (band recomputed), so trends have something to compare with."""
    from bench import data
    from scoring.models import ScoringRun

    bands = sorted(scenario.bands.values(), key=lambda b: -b.lower)
    band_case = "CASE WHEN s IS NULL THEN NULL"
    for b in bands:
        band_case += f" WHEN s >= {b.lower!r} THEN {b.id}"
    band_case += " END"
    _sql("SELECT setseed(%s)", [data.SEED])
    for days in (8, 31):
        as_of = data.AS_OF - dt.timedelta(days=days)
        run = ScoringRun.objects.create(
            as_of=as_of, trigger="bench-history", status=ScoringRun.Status.SUCCEEDED
        )
        _sql(
            "INSERT INTO scoring_healthscore (account_id, run_id, model_id, score, band_id,"
            " confirmed_band_id, pending_count, rebaseline, completeness, breakdown,"
            " computed_at)"
            f" SELECT account_id, %s, model_id, s, {band_case}, {band_case}, 0, false,"
            " completeness, breakdown, %s"
            " FROM (SELECT *, CASE WHEN score IS NULL THEN NULL"
            "  ELSE greatest(0.0, least(100.0, score + random() * 30 - 15)) END AS s"
            "  FROM scoring_healthscore WHERE run_id = %s) h",
            [run.pk, as_of, source_run],
        )


def restore(tables: dict[str, str]) -> None:
    """Put the saved previous nights back into ``tables`` (ours or the reference's)."""
    _sql(f"TRUNCATE {tables['events']}, {tables['latest']}, {tables['history']} CASCADE")
    from django.db import connection

    with connection.cursor() as cursor:
        # The saved rows satisfied every foreign key when they were saved.
        cursor.execute("SET session_replication_role = replica")
        for kind in ("history", "latest", "events"):
            cursor.execute(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)"
                " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped",
                [PRIOR[kind]],
            )
            columns = cursor.fetchone()[0]
            cursor.execute(
                f"INSERT INTO {tables[kind]} ({columns}) SELECT {columns} FROM {PRIOR[kind]}"
            )
        cursor.execute("SET session_replication_role = DEFAULT")
        for kind in ("history", "events"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{tables[kind]}', 'id'),"
                f" (SELECT COALESCE(max(id), 0) + 1 FROM {tables[kind]}), false)"
            )
        for table in tables.values():
            cursor.execute(f"VACUUM ANALYZE {table}")
    if tables is OURS:
        # The rows came back with triggers off (replica role): the book's figures are made
        # again from them, as an admin does after a restore, before the measured run.
        from scoring.figures import figures_rebuild

        figures_rebuild()


def compare(*, ours_run: int, ref_run: int) -> dict:
    """Rows of ours and the reference's that differ (floats: by more than 1e-9, relative)."""
    elements = (
        "SELECT 1 FROM jsonb_array_elements(o.breakdown) WITH ORDINALITY ob (v, i)"
        " FULL JOIN jsonb_array_elements(r.breakdown) WITH ORDINALITY rb (v, i) USING (i)"
        " WHERE ob.v IS NULL OR rb.v IS NULL"
        " OR bench_differs((ob.v ->> 0)::float8, (rb.v ->> 0)::float8)"
        " OR bench_differs((ob.v ->> 1)::float8, (rb.v ->> 1)::float8)"
    )

    def parts(side: str) -> str:
        return (
            f"jsonb_array_elements(CASE WHEN jsonb_typeof({side}.delta -> 'parts') = 'array'"
            f" THEN {side}.delta -> 'parts' END)"
        )

    delta_differs = (
        "(o.delta IS NULL) <> (r.delta IS NULL)"
        " OR (o.delta ->> 'from') IS DISTINCT FROM (r.delta ->> 'from')"
        " OR bench_differs((o.delta ->> 'change')::float8, (r.delta ->> 'change')::float8)"
        " OR jsonb_typeof(o.delta -> 'parts') IS DISTINCT FROM jsonb_typeof(r.delta -> 'parts')"
        f" OR EXISTS (SELECT 1 FROM {parts('o')} WITH ORDINALITY op (v, i)"
        f" FULL JOIN {parts('r')} WITH ORDINALITY rp (v, i) USING (i)"
        " WHERE op.v IS NULL OR rp.v IS NULL"
        " OR bench_differs((op.v #>> '{}')::float8, (rp.v #>> '{}')::float8))"
    )
    history = _sql(
        "SELECT count(o.id), count(r.id), count(*) FILTER (WHERE o.id IS NULL OR r.id IS NULL"
        " OR bench_differs(o.score, r.score)),"
        " count(*) FILTER (WHERE o.band_id IS DISTINCT FROM r.band_id),"
        " count(*) FILTER (WHERE bench_differs(o.completeness, r.completeness)"
        f" OR o.computed_at IS DISTINCT FROM r.computed_at OR EXISTS ({elements})),"
        f" count(*) FILTER (WHERE {delta_differs}), count(o.delta), count(r.delta)"
        " FROM (SELECT * FROM scoring_healthscore WHERE run_id = %s) o"
        " FULL JOIN (SELECT * FROM bench_ref_healthscore WHERE run_id = %s) r"
        " ON r.account_id = o.account_id",
        [ours_run, ref_run],
    )[0]
    latest = _sql(
        "SELECT count(o.account_id), count(r.account_id), count(*) FILTER (WHERE"
        " o.account_id IS NULL OR r.account_id IS NULL OR bench_differs(o.score, r.score)"
        " OR o.band_id IS DISTINCT FROM r.band_id OR bench_differs(o.completeness, r.completeness)"
        " OR o.computed_at IS DISTINCT FROM r.computed_at"
        " OR bench_differs(o.trend_7d, r.trend_7d) OR bench_differs(o.trend_30d, r.trend_30d)"
        " OR bench_differs(o.trend_90d, r.trend_90d)),"
        " count(o.trend_7d), count(o.trend_30d), count(o.trend_90d)"
        " FROM scoring_accounthealth o FULL JOIN bench_ref_accounthealth r"
        " ON r.account_id = o.account_id"
    )[0]
    events = _sql(
        "SELECT count(o.id), count(r.id), count(*) FILTER (WHERE o.id IS NULL OR r.id IS NULL"
        " OR o.from_band_id IS DISTINCT FROM r.from_band_id"
        " OR o.to_band_id IS DISTINCT FROM r.to_band_id"
        " OR bench_differs(o.score_before, r.score_before)"
        " OR bench_differs(o.score_after, r.score_after))"
        " FROM (SELECT * FROM scoring_scoreevent WHERE run_id = %s) o"
        " FULL JOIN (SELECT * FROM bench_ref_scoreevent WHERE run_id = %s) r"
        " ON r.account_id = o.account_id AND r.kind = o.kind",
        [ours_run, ref_run],
    )[0]
    result = {
        "history_rows": [history[0], history[1]],
        "score_mismatches": history[2],
        "band_mismatches": history[3],
        "breakdown_mismatches": history[4],
        "delta_mismatches": history[5],
        "deltas": [history[6], history[7]],
        "latest_rows": [latest[0], latest[1]],
        "latest_mismatches": latest[2],
        "trends_found": {"7d": latest[3], "30d": latest[4], "90d": latest[5]},
        "events": [events[0], events[1]],
        "event_mismatches": events[2],
    }
    _log(
        f"ours vs reference: {history[0]:,} / {history[1]:,} history rows,"
        f" score mismatches {history[2]}, band {history[3]}, breakdown {history[4]},"
        f" delta {history[5]} ({history[6]:,} / {history[7]:,} deltas);"
        f" latest mismatches {latest[2]}; events {events[0]:,} / {events[1]:,},"
        f" mismatches {events[2]}"
    )
    return result


# --- One size, start to end --------------------------------------------------------------------


def bench_size(args, *, accounts: int, signals: int) -> dict:
    from django.db import connection

    from bench import data, reference

    first_night, generation_s = prepare(
        accounts=accounts,
        signals=signals,
        workers=args.workers,
        chunk_size=args.chunk_size,
        reuse=args.reuse,
        executor=args.executor,
    )
    # Made again from ours every time, so that they always have our current indexes.
    with connection.cursor() as cursor:
        reference.create_tables(cursor)
    as_of = data.AS_OF
    result = {
        "accounts": accounts,
        "signals": signals,
        "generation_s": generation_s,
        "first_night": first_night,
        "ours": [],
        "reference": [],
        "checks": [],
    }
    if args.warmup:
        restore(OURS)
        restore(REF)
        result["warmup_ours"] = run_ours(
            as_of=as_of,
            workers=args.workers,
            chunk_size=args.chunk_size,
            label="warm-up, ours",
            executor=args.executor,
        )
        result["warmup_reference"] = run_reference(as_of=as_of, label="warm-up, reference")
    for attempt in range(1, args.repeat + 1):
        restore(OURS)
        restore(REF)
        ours = run_ours(
            as_of=as_of,
            workers=args.workers,
            chunk_size=args.chunk_size,
            label=f"ours #{attempt}",
            executor=args.executor,
        )
        ref = run_reference(as_of=as_of, label=f"reference #{attempt}")
        result["ours"].append(ours)
        result["reference"].append(ref)
        result["checks"].append(compare(ours_run=ours["run_id"], ref_run=ref["run_id"]))
    if args.rollup:
        result["rollup"] = run_rollups(as_of=as_of, repeat=args.repeat)
    return result


# --- Report ----------------------------------------------------------------------------------


def machine() -> dict:
    from django.db import connection

    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        settings = {}
        for name in (
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "effective_cache_size",
            "max_wal_size",
            "synchronous_commit",
            "jit",
        ):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "postgresql": version,
        "pg_settings": settings,
        "python": platform.python_version(),
        "commit": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
    }


def _disk() -> str:
    st = os.statvfs("/")
    return f"{st.f_bavail * st.f_frsize / 1024**3:.0f} GB free"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s"


def markdown(results: list[dict], *, info: dict, started: str, command: str) -> str:
    lines = []
    settings = ", ".join(f"{k} {v}" for k, v in info["pg_settings"].items())
    lines += [
        f"Measured {started} at commit `{info['commit']}` on {info['nproc']} cores"
        f" ({info['cpu']}), {info['memory_gb']} GB RAM, PostgreSQL {info['postgresql']}"
        f" (server defaults: {settings}), Python {info['python']}.",
        "",
        f"Command: `{command}`"
        f" — ours ran on: {results[0]['ours'][0]['executor']}, chunks of"
        f" {results[0]['ours'][0]['chunk_size']:,} accounts; the reference in one process,"
        " one transaction.",
        "",
    ]
    for r in results:
        n = r["accounts"]
        lines += [
            f"#### {n:,} accounts, {r['signals']:,} signals",
            "",
            "| run | wall time | accounts/s | peak RSS of the worker processes"
            " | peak DB backend RSS (private) | load avg before → after |",
            "|---|---:|---:|---:|---:|---|",
        ]
        rows = []
        if r.get("first_night"):
            first = dict(r["first_night"])
            if r.get("generation_s") is None:  # --reuse: measured when the data was made
                first["label"] += ", when the data was made"
            rows.append(("ours", first))
        for key in ("warmup_ours", "warmup_reference"):
            if key in r:
                rows.append(("ours" if "ours" in key else "reference", r[key]))
        for ours, ref in zip(r["ours"], r["reference"], strict=True):
            rows += [("ours", ours), ("reference", ref)]
        for side, m in rows:
            name = m["label"] if side in m["label"] else f"{side}: {m['label']}"
            memory = f"{m['worker_peak_rss_mb']:.0f} MB"
            if "worker_all_processes_peak_rss_mb" in m:
                memory += f" each, {m['worker_all_processes_peak_rss_mb']:.0f} MB in all"
            lines.append(
                f"| {name} | {_fmt_s(m['wall_s'])} | {m['accounts_per_s']:,.0f}"
                f" | {memory}"
                f" | {m['backend_peak_rss_mb']:.0f} MB ({m['backend_peak_private_mb']:.0f} MB)"
                f" | {m['load_before']} → {m['load_after']} |"
            )
        ours_s = _median([m["wall_s"] for m in r["ours"]])
        ref_s = _median([m["wall_s"] for m in r["reference"]])
        pairs = ", ".join(
            f"{o['wall_s'] / f['wall_s']:.2f}×"
            for o, f in zip(r["ours"], r["reference"], strict=True)
        )
        lines += [
            "",
            f"Measured runs: ours {_fmt_s(ours_s)}, reference {_fmt_s(ref_s)}:"
            f" **ours / reference = {ours_s / ref_s:.2f}×**"
            + (f" (medians; run by run {pairs})." if len(r["ours"]) > 1 else "."),
            "",
        ]
        check = r["checks"][-1]
        lines += [
            f"Same results: {check['history_rows'][0]:,} history rows (reference"
            f" {check['history_rows'][1]:,}); mismatches (tolerance 1e-9): scores"
            f" {check['score_mismatches']}, bands {check['band_mismatches']}, breakdowns and"
            f" completeness {check['breakdown_mismatches']}, deltas {check['delta_mismatches']}"
            f" (of {check['deltas'][0]:,}), latest scores and trends"
            f" {check['latest_mismatches']}; events {check['events'][0]:,} (reference"
            f" {check['events'][1]:,}), mismatches {check['event_mismatches']}. Trends found:"
            f" 7 days {check['trends_found']['7d']:,}, 30 days {check['trends_found']['30d']:,},"
            f" 90 days {check['trends_found']['90d']:,}.",
            "",
        ]
        last_ours, last_ref = r["ours"][-1], r["reference"][-1]
        lines += [
            "Where the time goes in the last measured pair (ours: seconds summed over the"
            " workers' chunks; reference: seconds of each statement; the reference computes"
            " each history row's delta in the same INSERT, ours updates the rows after):",
            "",
            "| step | ours (worker-seconds) | reference (s) |",
            "|---|---:|---:|",
        ]
        names = list(dict.fromkeys([*last_ref["steps_s"], *last_ours["steps_worker_s"]]))
        for name in names:
            o = last_ours["steps_worker_s"].get(name)
            f = last_ref["steps_s"].get(name)
            lines.append(
                f"| {name} | {'' if o is None else f'{o:.1f}'} | {'' if f is None else f'{f:.1f}'} |"
            )
        lines.append("")
        if "rollup" in r:
            ro = r["rollup"]
            o, f = _median(ro["ours_s"]), _median(ro["reference_s"])
            lines += [
                f"Roll-up alone of {r['signals']:,} signals into {ro['rows']:,} accounts'"
                " metric values (one statement each, into a temporary table):",
                "",
                "| roll-up | time | signals/s |",
                "|---|---:|---:|",
                f"| ours (`rollup_sql`, all accounts) | {_fmt_s(o)} | {r['signals'] / o:,.0f} |",
                f"| reference (GROUP BY + DISTINCT ON) | {_fmt_s(f)} | {r['signals'] / f:,.0f} |",
                "",
                f"Ours / reference = {o / f:.2f}×; mismatching accounts: {ro['mismatches']}"
                f" (load {ro['load_before']} → {ro['load_after']}).",
                "",
            ]
    if len(results) > 1:
        lines += [
            "#### Growth",
            "",
            "| accounts | signals | ours | accounts/s | reference | ours / reference |"
            " peak RSS of a worker process |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            o = _median([m["wall_s"] for m in r["ours"]])
            f = _median([m["wall_s"] for m in r["reference"]])
            peak = max(m["worker_peak_rss_mb"] for m in r["ours"])
            scored = r["ours"][0]["accounts"]
            lines.append(
                f"| {r['accounts']:,} ({scored:,} scored) | {r['signals']:,} | {_fmt_s(o)}"
                f" | {scored / o:,.0f}"
                f" | {_fmt_s(f)} | {o / f:.2f}× | {peak:.0f} MB |"
            )
        lines.append("")
    return "\n".join(lines)


def write_docs(path: Path, *, mode: str, text: str, name: str = "") -> None:
    """``text`` into ``path`` between the markers of ``name`` (this benchmark's, by
    ``mode``, unless another benchmark names its own), replacing what was there."""
    name = name or "bench/recompute.py" + (" --sizes" if mode == "growth" else "")
    start, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    content = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in content and end in content:
        before, rest = content.split(start, 1)
        _, after = rest.split(end, 1)
        content = before + block + after
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    _log(f"results written to {path} ({mode})")


# --- Command line ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--signals", type=int, help="default: 10 per account")
    parser.add_argument("--sizes", help="e.g. 10000,100000,1000000 (10 signals per account)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (concurrency)")
    parser.add_argument(
        "--executor",
        choices=["celery", "processes"],
        default="celery",
        help="a real Celery worker (default) or plain processes claiming chunks",
    )
    parser.add_argument("--chunk-size", type=int, help="default: VITALS_RECOMPUTE_CHUNK_SIZE")
    parser.add_argument("--repeat", type=int, default=1, help="measured runs per size")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument("--no-rollup", dest="rollup", action="store_false")
    parser.add_argument("--reuse", action="store_true", help="keep data of the same size")
    parser.add_argument("--docs", default=str(DOCS), help="Markdown file to update ('' = none)")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument(
        "--render", metavar="JSON", help="only write the Markdown of results saved with --json"
    )
    args = parser.parse_args()
    # Stopped from outside: still stop the Celery worker it started (see _run_ours_celery).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))

    if args.render:
        saved = json.loads(Path(args.render).read_text())
        text = markdown(
            saved["results"],
            info=saved["machine"],
            started=saved["started"],
            command=saved["command"],
        )
        print(text)
        if args.docs:
            write_docs(Path(args.docs), mode=saved["mode"], text=text)
        return

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database of its own for the benchmark.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    # The recompute alone is measured: the score-event consumers it would wake when a
    # run finishes (playbooks) are left out, here and in the worker processes.
    os.environ["VITALS_AFTER_RECOMPUTE_TASKS"] = ""
    django_setup()

    if args.sizes:
        sizes = [(int(s), 10 * int(s)) for s in args.sizes.split(",")]
        mode = "growth"
    else:
        sizes = [(args.accounts, args.signals or 10 * args.accounts)]
        mode = "recompute"
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    info = machine()
    _log(f"machine: {info}; load {loadavg()}; disk {_disk()}")
    results = [bench_size(args, accounts=a, signals=s) for a, s in sizes]
    command = " ".join(["python", "bench/recompute.py", *sys.argv[1:]])
    text = markdown(results, info=info, started=started, command=command)
    print(text)
    if args.json:
        saved = {"machine": info, "results": results, "started": started, "command": command}
        Path(args.json).write_text(json.dumps({**saved, "mode": mode}, indent=2))
    if args.docs:
        write_docs(Path(args.docs), mode=mode, text=text)


if __name__ == "__main__":
    main()
