"""Real Celery worker processes for tests, pointed at the test database and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class WorkerController:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.queue = f"test-{uuid.uuid4().hex[:10]}"
        self.processes: list[subprocess.Popen] = []
        # Messages this test process sends go to the queue only its workers consume.
        from config.celery import app

        self._app = app
        self._previous_queue = app.conf.task_default_queue
        app.conf.task_default_queue = self.queue

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=_database_url(),
            CELERY_QUEUE=self.queue,
            VITALS_VAR_DIR=str(settings.VAR_DIR),
            # The network guard of the tests (tests/netguard) in the workers too.
            PYTHONPATH=os.pathsep.join(
                [str(ROOT / "tests" / "netguard"), *filter(None, [env.get("PYTHONPATH")])]
            ),
        )
        return env

    def _spawn(self, kind: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{kind}-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start(self, concurrency: int = 2) -> subprocess.Popen:
        return self._spawn(
            "worker",
            [
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--queues",
                self.queue,
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{self.queue}-{len(self.processes)}@%h",
            ],
        )

    def start_beat(self) -> subprocess.Popen:
        """celery beat on the database schedules, sending to this controller's queue."""
        return self._spawn(
            "beat",
            [
                "beat",
                "--loglevel",
                "INFO",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--max-interval",
                "1",
                "--pidfile",
                str(self.tmp_path / f"beat-{len(self.processes)}.pid"),
            ],
        )

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool children: no chance to clean up or ack."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        """Kill every worker at once: every task is idempotent, so a task cut short
        costs nothing, and a warm shutdown of the file-system broker takes seconds."""
        self._app.conf.task_default_queue = self._previous_queue
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self, kind: str = "worker") -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob(f"{kind}-*.log")))


def wait_for(predicate, *, timeout: float, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message or predicate}")
