"""Locks that make a periodic job single, whoever starts it and however often.

Two beat processes (a rolling deploy, a second container) each send every scheduled
job; an operator may start by hand what the schedule is already running. A job that
must not run twice at once takes ``job_lock(name)`` first and does nothing when
another process holds it.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``), scoped to the
  database. It is released when the job ends, and by PostgreSQL itself the moment the
  holder's connection ends: a SIGKILLed worker never leaves a job locked. (A pooler in
  transaction mode, such as PgBouncer's, would hand the session to others: point the
  workers at PostgreSQL directly.)
- SQLite, the single-machine embedded default: an exclusive ``flock`` on a file under
  ``VITALS_VAR_DIR/locks``, released by the kernel when its process dies.

The lock keeps a job from running twice at the same moment. Whether a job that
finished a moment ago should run again is the job's own business (the nightly
recompute, for one, starts no second run while one is open: see
``scoring.services.scoring_run_start``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _key(name: str) -> int:
    # A stable signed 64-bit number for the name (advisory locks are keyed by bigint).
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block if no other process holds it; yields
    whether this process got it. Never waits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_key(name)])
            got = cursor.fetchone()[0]
        try:
            yield got
        finally:
            if got:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [_key(name)])
                except DatabaseError:
                    pass  # the connection is gone, and the lock went with it
        return
    # One lock file per database and job: test runs in parallel use separate databases.
    database = hashlib.sha256(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:12]
    folder = settings.VAR_DIR / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{database}-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_alone(name: str, job: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
    """``job(*args, **kwargs)`` under ``job_lock(name)``; None, and nothing done, when
    another process is running it."""
    with job_lock(name) as got:
        if not got:
            logger.info("%s is running in another process; this call does nothing", name)
            return None
        return job(*args, **kwargs)
