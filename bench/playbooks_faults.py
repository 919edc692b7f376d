"""Playbooks under faults: a recompute's band changes become playbook runs and tasks
exactly once while workers are SIGKILLed and the broker restarts.

Usage (PostgreSQL on 127.0.0.1:5432 and redis-server installed; about five minutes):

    .venv/bin/python bench/playbooks_faults.py [--accounts 1200] [--db vitals_playbooks_faults] \
        [--redis-port 6390] [--seed 1] [--no-write]

The story runs twice, each time on a fresh database and a fresh Redis: once
undisturbed (the baseline), once under faults. Each run:

1. creates the PostgreSQL database ``--db`` (dropped first) and starts its OWN
   redis-server on ``--redis-port`` — never the shared one on 6379, which is not
   restarted;
2. scores ``--accounts`` accounts Healthy, then gives them signals that make them
   At-risk. The playbook "Became At-risk" waits (a call for the owner and a review for
   the owner's manager: two tasks per run), with a webhook endpoint subscribed to
   ``task.created`` (a local receiver that answers 500 to one request in ten);
3. starts two Celery worker processes and celery beat (the database schedules of the
   playbook ticks set to every 5 s) and dispatches the second recompute to the workers;
4. under faults only: SIGKILLs one worker every 2–4 s and starts it again (as a process
   supervisor would), and restarts Redis once, without persistence, while the tasks are
   being created — every queued and unacknowledged message is lost;
5. when everything is done (or after ``--timeout`` seconds) checks: one run per
   band-change event, none missing; two tasks per run, one per step run; every webhook
   sent; the workers still alive.

It prints the figures and writes both runs to docs/playbooks-faults.md (unless
``--no-write``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster import Celery, Redis, bench_environment, log  # noqa: E402

QUEUE = "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1200)
    parser.add_argument(
        "--db",
        default="vitals_playbooks_faults",
        help="PostgreSQL database, DROPPED and created again (default vitals_playbooks_faults)",
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--var", default="/tmp/vitals-bench-var")
    parser.add_argument("--no-write", action="store_true", help="do not write the docs page")
    return parser.parse_args()


ARGS = parse_args()
VAR = Path(ARGS.var)
ENV = bench_environment(
    var=VAR,
    database_url=f"{ARGS.pg}/{ARGS.db}",
    redis_port=ARGS.redis_port,
    queue=QUEUE,
    # Recovery runs on the default settings (lost step and delivery messages are found
    # by the tick after 30 s); only failed webhooks are retried sooner: 1, 2, 4 … s.
    VITALS_DELIVERY_BACKOFF="1",
    VITALS_DELIVERY_BACKOFF_MAX="30",
    # The webhook receiver is a local one, on the loopback.
    VITALS_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",
)


# --- Servers -------------------------------------------------------------------------------


REDIS = Redis(port=ARGS.redis_port, folder=VAR)


def database_create() -> None:
    import psycopg

    with psycopg.connect(f"{ARGS.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{ARGS.db}"')


class Receiver:
    """The webhook receiver: verifies signatures, answers 500 to one request in ten."""

    def __init__(self, seed: int) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.keys: Counter[str] = Counter()
        self.requests = 0
        self.refused = 0
        self.bad_signatures = 0
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from standardwebhooks import Webhook, WebhookVerificationError

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests += 1
                    try:
                        Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    except WebhookVerificationError:
                        receiver.bad_signatures += 1
                    fail = receiver.rng.random() < 0.1
                    if fail:
                        receiver.refused += 1
                    else:
                        receiver.keys[self.headers.get("webhook-id")] += 1
                self.send_response(500 if fail else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


# --- The scenario -------------------------------------------------------------------------------


def scenario(*, faults: bool) -> tuple[dict, dict]:
    """One run of the whole story on a fresh database and a fresh Redis; with ``faults``,
    workers are SIGKILLed every 2–4 s and Redis is restarted once."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from accounts.models import Account, Team, User
    from playbooks.models import (
        Delivery,
        Playbook,
        PlaybookRun,
        PlaybookStep,
        PlaybookStepRun,
        Task,
        WebhookEndpoint,
    )
    from scoring.models import (
        Band,
        HealthScore,
        Metric,
        ScoreEvent,
        ScoringComponent,
        ScoringModel,
        ScoringRun,
    )
    from scoring.services import scoring_model_activate, scoring_run_create, scoring_run_execute
    from scoring.tasks import scoring_run_dispatch

    connection.close()
    log(
        f"{'with' if faults else 'without'} faults: fresh database {ARGS.db}, redis on {ARGS.redis_port}"
    )
    database_create()
    REDIS.start(fresh=True)
    call_command("migrate", verbosity=0)
    load_before = os.getloadavg()[0]
    rng = random.Random(ARGS.seed)

    # The schedules an operator would shorten in admin for a test: every 5 seconds.
    every_5s, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
    PeriodicTask.objects.filter(task__startswith="playbooks.tasks.").exclude(
        task="playbooks.tasks.evaluate_state_triggers"
    ).update(interval=every_5s)
    PeriodicTask.objects.filter(task="scoring.tasks.recompute_all").update(enabled=False)

    # People, model, accounts.
    manager = User.objects.create(username="manager", role=User.Role.MANAGER, email="m@example.com")
    csms = [
        User.objects.create(username=f"csm{i}", email=f"csm{i}@example.com") for i in range(1, 5)
    ]
    team = Team.objects.create(name="CS")
    team.members.add(*csms)
    team.managers.add(manager)
    logins = Metric.objects.create(key="logins", name="Logins")
    model = ScoringModel.objects.create(key="usage", name="Usage")
    ScoringComponent.objects.create(
        model=model, metric=logins, weight=100, rule="linear", params={"worst": 0, "best": 20}
    )
    for name, lower in [("At-risk", 0), ("Neutral", 50), ("Healthy", 75)]:
        Band.objects.create(model=model, name=name, lower=lower)
    scoring_model_activate(model=model)
    Account.objects.bulk_create(
        Account(external_id=f"acc-{i:05d}", name=f"Account {i:05d}", owner=csms[i % 4])
        for i in range(ARGS.accounts)
    )
    account_ids = list(Account.objects.values_list("pk", flat=True))
    t0 = timezone.now() - dt.timedelta(days=1)

    def add_logins(value: float, at: dt.datetime) -> None:
        from scoring.services import SignalRow, signals_store

        signals_store(
            rows=[
                SignalRow(pk, logins.pk, value, at - dt.timedelta(minutes=5)) for pk in account_ids
            ]
        )

    add_logins(18, t0)
    scoring_run_execute(run=scoring_run_create(as_of=t0))  # everyone Healthy (90)
    add_logins(6, timezone.now())  # … and now At-risk (30) at the next recompute

    receiver = Receiver(ARGS.seed)
    endpoint = WebhookEndpoint.objects.create(
        name="Receiver", url=receiver.url, events=["task.created"]
    )
    receiver.secret = endpoint.secret
    playbook = Playbook.objects.create(
        name="Became At-risk", trigger="band_changed", to_band_name="At-risk", cooldown_days=30
    )
    PlaybookStep.objects.create(
        playbook=playbook, position=1, task_title="Call {account}", task_priority="high"
    )
    PlaybookStep.objects.create(
        playbook=playbook,
        position=2,
        task_title="Review {account}",
        assignee_rule="owner_manager",
        task_due_in_days=5,
    )
    connection.close()

    procs = Celery(folder=VAR, env={**os.environ, **ENV}, queue=QUEUE)
    procs.start_worker(0)
    procs.start_worker(1)
    procs.start_beat()
    started = time.monotonic()
    run = scoring_run_create(as_of=timezone.now(), chunk_size=100)
    scoring_run_dispatch(run.pk)
    log(f"recompute of {ARGS.accounts} accounts dispatched in {run.chunks_total} chunks")

    expected_tasks = 2 * ARGS.accounts
    kills = 0
    redis_restart: dict[str, float] = {}
    marks: dict[str, float] = {}
    next_kill = time.monotonic() + rng.uniform(2, 4)
    slot = 0
    progress_at_restart = None

    def counts() -> dict[str, int]:
        return {
            "run": ScoringRun.objects.get(pk=run.pk).status == "succeeded",
            "claimed": ScoreEvent.objects.filter(run=run, claimed_at__isnull=False).count(),
            "runs": PlaybookRun.objects.count(),
            "tasks": Task.objects.count(),
            "sent": Delivery.objects.filter(status="sent").count(),
        }

    done = False
    last_report = 0.0
    while time.monotonic() - started < ARGS.timeout:
        time.sleep(0.5)
        c = counts()
        elapsed = time.monotonic() - started
        if c["run"] and "recompute done" not in marks:
            marks["recompute done"] = elapsed
        if c["runs"] >= ARGS.accounts and "all runs" not in marks:
            marks["all runs"] = elapsed
        if c["tasks"] >= expected_tasks and "all tasks" not in marks:
            marks["all tasks"] = elapsed
        if faults and c["tasks"] >= 0.3 * expected_tasks and not redis_restart:
            log(f"restarting redis (tasks so far: {c['tasks']})")
            REDIS.stop()
            redis_restart["down at"] = elapsed
            REDIS.start()
            redis_restart["up at"] = time.monotonic() - started
            progress_at_restart = c["tasks"]
        if (
            redis_restart
            and "resumed at" not in redis_restart
            and c["tasks"] >= (progress_at_restart or 0) + 100
        ):
            redis_restart["resumed at"] = elapsed
        if c["sent"] >= expected_tasks and c["tasks"] >= expected_tasks and c["run"]:
            marks["all webhooks"] = elapsed
            done = True
            break
        if faults and time.monotonic() >= next_kill:
            procs.kill_worker(slot)
            kills += 1
            procs.start_worker(slot)
            slot = 1 - slot
            next_kill = time.monotonic() + rng.uniform(2, 4)
        if elapsed - last_report >= 10:
            last_report = elapsed
            log(f"{elapsed:5.0f} s  {c}  kills {kills}")
    total = time.monotonic() - started
    log("settling for 15 s (duplicates in flight would land now)")
    time.sleep(15)
    alive = procs.alive()

    # --- Checks -------------------------------------------------------------------------------
    run.refresh_from_db()
    band_changes = ScoreEvent.objects.filter(run=run, kind="band_changed")
    per_event = Counter(
        PlaybookRun.objects.filter(playbook=playbook).values_list("score_event_id", flat=True)
    )
    events_without_run = band_changes.exclude(pk__in=list(per_event)).count()
    tasks_per_run = Counter(Task.objects.values_list("origin_step_run__run_id", flat=True))
    tasks_per_step_run = Counter(Task.objects.values_list("origin_step_run_id", flat=True))
    scores_per_account = Counter(
        HealthScore.objects.filter(run=run).values_list("account_id", flat=True)
    )
    deliveries = Delivery.objects.filter(event="task.created")
    attempts = Counter(deliveries.values_list("attempts", flat=True))
    step_runs = PlaybookStepRun.objects.aggregate(n=Count("pk"))["n"]
    checks = {
        "recompute succeeded, every account scored once": run.status == "succeeded"
        and len(scores_per_account) == ARGS.accounts
        and set(scores_per_account.values()) == {1},
        f"{ARGS.accounts} band changes recorded": band_changes.count() == ARGS.accounts,
        "one run per band change, none missing": events_without_run == 0
        and set(per_event.values()) == {1}
        and None not in per_event,
        "two tasks per run": set(tasks_per_run.values()) == {2}
        and len(tasks_per_run) == ARGS.accounts,
        "one task per step run": set(tasks_per_step_run.values()) == {1}
        and step_runs == expected_tasks,
        "every run done": set(PlaybookRun.objects.values_list("status", flat=True)) == {"done"},
        "every webhook sent, one delivery per task": deliveries.count() == expected_tasks
        and deliveries.filter(status="sent").count() == expected_tasks,
        "every delivery key received": len(receiver.keys) == expected_tasks,
        "every signature valid": receiver.bad_signatures == 0,
        "workers and beat alive at the end": all(alive.values()),
        "finished within the timeout": done,
    }
    reconnects = sum(
        (VAR / f"worker-{s}.log").read_text().count("Connection to broker lost") for s in (0, 1)
    )
    figures = {
        "accounts": ARGS.accounts,
        "recompute chunks": run.chunks_total,
        "band changes": band_changes.count(),
        "playbook runs": PlaybookRun.objects.count(),
        "tasks": Task.objects.count(),
        "webhook deliveries": deliveries.count(),
        "worker SIGKILLs": kills,
        "redis restarts": 1 if redis_restart else 0,
        "broker-lost messages in worker logs": reconnects,
        "receiver requests": receiver.requests,
        "receiver answered 500": receiver.refused,
        "delivered twice (same key, accepted twice)": sum(
            1 for n in receiver.keys.values() if n > 1
        ),
        "deliveries by attempts": dict(sorted(attempts.items())),
        "seconds to recompute done": round(marks.get("recompute done", float("nan")), 1),
        "seconds to all runs": round(marks.get("all runs", float("nan")), 1),
        "seconds to all tasks": round(marks.get("all tasks", float("nan")), 1),
        "seconds to all webhooks": round(marks.get("all webhooks", float("nan")), 1),
        "redis down at (s)": round(redis_restart.get("down at", float("nan")), 1),
        "seconds from the restart to 100 more tasks": round(
            redis_restart.get("resumed at", float("nan")) - redis_restart.get("up at", 0), 1
        ),
        "total seconds": round(total, 1),
        "machine load average (1 min) at start / end": f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
    }
    procs.stop_all()
    REDIS.stop()
    receiver.server.shutdown()
    if not faults:
        for name in (
            "worker SIGKILLs",
            "redis restarts",
            "redis down at (s)",
            "seconds from the restart to 100 more tasks",
        ):
            figures.pop(name)
    return figures, checks


def main() -> int:
    import django

    django.setup()
    results = {}
    for faults in (False, True):
        figures, checks = scenario(faults=faults)
        results["with faults" if faults else "without faults"] = (figures, checks)
        print()
        for name, value in figures.items():
            print(f"  {name:<45} {value}")
        print()
        for name, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAILED'}] {name}")
        print()
    if not ARGS.no_write:
        write_doc(results)
    return 0 if all(all(c.values()) for _, c in results.values()) else 1


def write_doc(results: dict[str, tuple[dict, dict]]) -> None:
    calm, calm_checks = results["without faults"]
    rough, rough_checks = results["with faults"]
    cpu = os.cpu_count()
    figure_rows = [f"| {name} | {calm.get(name, '—')} | {value} |" for name, value in rough.items()]
    check_rows = [
        f"| {name} | {'ok' if calm_checks[name] else 'FAILED'} | {'ok' if ok else 'FAILED'} |"
        for name, ok in rough_checks.items()
    ]
    lines = [
        "# Playbooks under faults (measured)",
        "",
        "Produced by `bench/playbooks_faults.py` "
        f"(`--accounts {ARGS.accounts} --seed {ARGS.seed}`) on a {cpu}-core machine, "
        f"{time.strftime('%Y-%m-%d')}: PostgreSQL, a private Redis, two Celery worker "
        "processes (concurrency 1 each) and celery beat with the database schedules of "
        "the playbook ticks set to every 5 s. The same story runs twice on a fresh "
        "database: once undisturbed, once under faults.",
        "",
        "The story: a recompute on the workers moves every account from Healthy to "
        "At-risk. The playbook “Became At-risk” makes two tasks per run (the owner's "
        "call, the manager's review), and a webhook endpoint subscribed to "
        "`task.created` gets a signed request per task from a local receiver that "
        "answers 500 to one request in ten.",
        "",
        "The faults: one worker is SIGKILLed every 2–4 s and started again (as a "
        "process supervisor would), and Redis is restarted once without persistence "
        "when 30 % of the tasks exist, losing every queued and unacknowledged message. "
        "Nothing is re-sent by hand: recovery comes from beat's `process_score_events` "
        "and `dispatch_due_steps` ticks (the tick does itself any step or delivery sent "
        "more than `VITALS_PLAYBOOK_REDISPATCH_AFTER` ago and not handled — the default "
        "30 s), the recompute watchdog and the workers' own reconnection to the broker.",
        "",
        "| figure | without faults | with faults |",
        "|---|---|---|",
        *figure_rows,
        "",
        "| check | without faults | with faults |",
        "|---|---|---|",
        *check_rows,
        "",
        "The machine was shared with other work while this ran (the load averages are in "
        "the table): the seconds depend on that load; the checks do not.",
        "",
        "“Delivered twice” counts webhook requests the receiver accepted twice under the "
        "same `webhook-id`: a worker killed after the receiver answered but "
        "before the delivery was recorded as sent. HTTP cannot be exactly-once; the key "
        "is there so that receivers drop such duplicates. Runs, step runs and tasks are "
        "exactly once by database constraints.",
        "",
    ]
    path = ROOT / "docs" / "playbooks-faults.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines))
    log(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
