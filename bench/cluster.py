"""The processes of a fault bench: a private redis-server, Celery workers and beat, run
as a deployment runs them (each in its own session, so that a kill takes its children),
with their logs under the bench's folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_environment(
    *, var: Path, database_url: str, redis_port: int, queue: str, **settings: str
) -> dict[str, str]:
    """The environment of a bench's processes, set in this one too: the embedded settings
    pointed at the bench's own database and Redis, ``var`` (emptied first) for their
    files and logs, and the bench's ``settings`` on top."""
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CELERY_QUEUE": queue,
        "VITALS_VAR_DIR": str(var),
        "LOG_LEVEL": "INFO",
        **settings,
    }
    os.environ.update(env)
    return env


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Redis:
    """A redis-server of the bench's own on ``port``, without persistence: a restart
    loses every message. Never the shared one on 6379."""

    def __init__(self, *, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True
        )
        return done.stdout.strip()

    def start(self, *, fresh: bool = False) -> None:
        if fresh and self.cli("ping") == "PONG":
            raise SystemExit(
                f"Something already answers on port {self.port}: the bench restarts its "
                "Redis, so it needs a port of its own (--redis-port)."
            )
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(50):
            if self.cli("ping") == "PONG":
                return
            time.sleep(0.1)
        raise SystemExit(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        self.cli("shutdown", "nosave")
        for _ in range(50):
            if self.cli("ping") != "PONG":
                return
            time.sleep(0.1)


class Celery:
    """Workers (one process each) and beats on ``queue``, started with ``env``."""

    def __init__(self, *, folder: Path, env: dict[str, str], queue: str, tag: str = "") -> None:
        self.folder, self.env, self.queue = folder, env, queue
        self.tag = f"{tag}-" if tag else ""
        self.workers: dict[int, subprocess.Popen] = {}
        self.beats: list[subprocess.Popen] = []
        self.generation = 0

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        logfile = open(self.folder / f"{self.tag}{name}.log", "a")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_worker(self, slot: int) -> None:
        self.generation += 1
        self.workers[slot] = self._spawn(
            [
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--queues",
                self.queue,
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"bench{slot}-{self.generation}@%h",
            ],
            f"worker-{slot}",
        )

    def kill_worker(self, slot: int) -> None:
        """SIGKILL the worker and its pool: no chance to clean up or acknowledge."""
        process = self.workers[slot]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def start_beat(self) -> None:
        index = len(self.beats)
        self.beats.append(
            self._spawn(
                [
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--scheduler",
                    "django_celery_beat.schedulers:DatabaseScheduler",
                    "--pidfile",
                    str(self.folder / f"{self.tag}beat-{index}.pid"),
                ],
                f"beat-{index}" if index else "beat",
            )
        )

    def alive(self) -> dict[str, bool]:
        state = {f"worker {slot}": p.poll() is None for slot, p in self.workers.items()}
        for index, beat in enumerate(self.beats):
            state[f"beat {index}" if index else "beat"] = beat.poll() is None
        return state

    def logs(self, kind: str = "worker") -> str:
        return "".join(p.read_text() for p in sorted(self.folder.glob(f"{self.tag}{kind}*.log")))

    def stop_all(self) -> None:
        processes = [*self.workers.values(), *self.beats]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
