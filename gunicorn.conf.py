"""gunicorn settings for the Vitals web process (read by `gunicorn -c gunicorn.conf.py`).

Sized for a 2-core host by default: 3 processes with 4 threads each. Threads rather than
more processes because a request spends most of its time waiting on PostgreSQL, and a
CSV export streams for as long as the client takes to download it; a thread waiting
costs far less memory than a process. Override with the environment variables below.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name}={raw!r} is not a whole number.") from None


_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

bind = f"0.0.0.0:{_int('PORT', 8000)}"
worker_class = "gthread"
# One process per core plus one, so a process busy in Python code never leaves a core idle.
workers = _int("WEB_CONCURRENCY", _cores + 1)
threads = _int("GUNICORN_THREADS", 4)
# A worker that stops answering its heartbeat for this long is restarted.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
# Behind a reverse proxy that keeps connections open to us.
keepalive = 5
# Recycle each process after a while so a slow leak can never grow without bound; the
# jitter keeps all processes from restarting at the same moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = 200
# The heartbeat file lives in memory: a container's overlay file system can stall it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn 27's admin socket goes under $HOME, which the image's user does not have;
# nothing here uses it. (Older gunicorn versions ignore this name.)
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
