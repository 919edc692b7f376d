"""Loaded into the benchmark's Celery worker (``--include bench.celery_profile``).

It changes nothing in what the tasks do. Around each ``score_chunk`` task it adds up
the time of the chunk's statements by step (a Django execute wrapper) and writes, per
pool process, a small JSON file into BENCH_PROFILE_DIR: chunks, seconds per step, the
process's peak resident memory and that of its PostgreSQL backend. A ``ready`` file
tells the benchmark that the worker is consuming.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path

from celery.signals import task_postrun, task_prerun, worker_ready

from bench.workers import proc_status, step_of

DIR = Path(os.environ.get("BENCH_PROFILE_DIR", "/tmp"))
_state: dict = {"steps": defaultdict(float), "chunks": 0, "chunk_seconds": 0.0, "backends": {}}


def _timed(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        _state["steps"][step_of(sql)] += time.perf_counter() - started


@worker_ready.connect
def _ready(**kwargs) -> None:
    (DIR / "ready").write_text(str(os.getpid()))


@task_prerun.connect
def _before(task=None, **kwargs) -> None:
    if task is None or not task.name.endswith("score_chunk"):
        return
    from django.db import connection

    wrapper = connection.execute_wrapper(_timed)
    wrapper.__enter__()
    _state["wrapper"] = wrapper
    _state["started"] = time.perf_counter()


@task_postrun.connect
def _after(task=None, **kwargs) -> None:
    wrapper = _state.pop("wrapper", None)
    if wrapper is None:
        return
    wrapper.__exit__(None, None, None)
    elapsed = time.perf_counter() - _state.pop("started")
    _state["chunks"] += 1
    _state["chunk_seconds"] += elapsed
    from django.db import connection

    backend = None
    if connection.connection is not None:
        backend = connection.connection.info.backend_pid
        peak = proc_status(backend).get("VmHWM", 0)
        _state["backends"][backend] = max(_state["backends"].get(backend, 0), peak)
    steps = dict(_state["steps"])
    steps["commit and Python"] = _state["chunk_seconds"] - sum(steps.values())
    report = {
        "pid": os.getpid(),
        "chunks": _state["chunks"],
        "chunk_seconds": _state["chunk_seconds"],
        "steps": steps,
        "peak_rss_kb": proc_status(os.getpid()).get("VmHWM", 0),
        "backend_pid": backend,
        "backend_peak_rss_kb": max(_state["backends"].values(), default=0),
    }
    path = DIR / f"worker-{os.getpid()}.json"
    path.with_suffix(".tmp").write_text(json.dumps(report))
    path.with_suffix(".tmp").replace(path)
