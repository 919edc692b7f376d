"""The nightly recompute under faults, with DEFAULT settings: every account scored exactly
once, and the run finished soon after the last fault.

Usage (PostgreSQL on 127.0.0.1:5432 and redis-server installed; about 15 minutes):

    .venv/bin/python bench/faults.py [--accounts 400000] [--signals 1600000] \\
        [--db vitals_faults] [--redis-port 6390] [--scenarios calm,kill,redis,pg,beats] \\
        [--no-write]

One database ``--db`` (dropped and created again) holds ``--accounts`` accounts and
``--signals`` signals (``bench/data.py``: eight metrics, a weighted model). Its OWN
redis-server runs on ``--redis-port`` — never the shared one on 6379, which is not
touched. Two Celery workers (one process each) and celery beat run as a deployment runs
them, on the default settings: only the database, the broker and the queue name are set.
Each scenario recomputes every account once, in chunks of the default size:

- ``calm``: undisturbed, the baseline measured in the same run;
- ``kill``: a worker SIGKILLed every 5 s for 75 s, and started again at once (as a
  process supervisor does);
- ``redis``: Redis shut down without saving and started again empty when a third of
  the chunks are done: every queued and unacknowledged message is lost;
- ``pg``: every PostgreSQL connection to the bench database but the bench's own
  terminated (``pg_terminate_backend``) every 3 s for 75 s;
- ``beats``: a second beat, and the nightly recompute scheduled every 5 s on both, so
  that both send it again and again while the run goes.

Each reports the run's time against ``calm``, the accounts scored (and how often each),
the time from the last fault to the run's end, and how many runs were started; then
checks the targets: every account exactly once, the end within calm's time + 90 s of
the last fault, one run. The figures go to docs/faults.md (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster import Celery, Redis, bench_environment, log  # noqa: E402

QUEUE = "bench-faults"
SCENARIOS = ("calm", "kill", "redis", "pg", "beats")
FAULT_SECONDS = 75


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=400_000)
    parser.add_argument("--signals", type=int, default=1_600_000)
    parser.add_argument("--db", default="vitals_faults", help="DROPPED and created again")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--timeout", type=int, default=900, help="seconds per scenario at most")
    parser.add_argument("--var", default="/tmp/vitals-bench-faults")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/faults.md")
    return parser.parse_args()


ARGS = parse_args()
VAR = Path(ARGS.var)
ENV = bench_environment(
    var=VAR, database_url=f"{ARGS.pg}/{ARGS.db}", redis_port=ARGS.redis_port, queue=QUEUE
)


# --- Servers and processes -------------------------------------------------------------------

REDIS = Redis(port=ARGS.redis_port, folder=VAR)
# Not the bench's PGAPPNAME: the "pg" scenario spares only the bench's own connection.
CHILD_ENV = {**{k: v for k, v in os.environ.items() if k != "PGAPPNAME"}, **ENV}


def database_create() -> None:
    import psycopg

    with psycopg.connect(f"{ARGS.pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{ARGS.db}"')


def terminate_backends() -> int:
    """Terminate every connection to the bench database except the bench's own."""
    import psycopg

    with psycopg.connect(f"{ARGS.pg}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name <> 'vitals-bench'",
            [ARGS.db],
        ).fetchall()
    return len(rows)


# --- Data and scenarios ----------------------------------------------------------------------


def prepare() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django_celery_beat.models import PeriodicTask

    from bench import data

    database_create()
    connection.close()
    call_command("migrate", verbosity=0)
    scenario = data.create_model()
    data.generate_accounts(count=ARGS.accounts)
    data.generate_signals(accounts=ARGS.accounts, count=ARGS.signals, metrics=scenario.metrics)
    data.vacuum_analyze("accounts_account", "scoring_signal")
    # The nightly waits for its time (02:00) as in any deployment; "beats" moves it.
    PeriodicTask.objects.filter(task="scoring.tasks.recompute_all").update(enabled=False)
    connection.close()


def run_scenario(name: str, *, calm_seconds: float | None) -> dict:
    from django.db import close_old_connections, connection
    from django.db.models import Count
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from scoring.models import HealthScore, ScoringRun
    from scoring.services import scoring_run_create
    from scoring.tasks import scoring_run_dispatch

    log(f"--- {name} ---")
    REDIS.stop()
    REDIS.start()
    procs = Celery(folder=VAR, env=CHILD_ENV, queue=QUEUE, tag=name)
    procs.start_worker(0)
    procs.start_worker(1)
    procs.start_beat()
    time.sleep(5)  # let them connect, as they would be long before a nightly run
    runs_before = set(ScoringRun.objects.values_list("pk", flat=True))

    started = time.monotonic()
    faults: list[float] = []
    if name == "beats":
        every_5s, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
        PeriodicTask.objects.filter(task="scoring.tasks.recompute_all").update(
            enabled=True, interval=every_5s, crontab=None
        )
        procs.start_beat()
        faults.append(0.0)
        run = None
    else:
        run = scoring_run_create()
        scoring_run_dispatch(run.pk)
    connection.close()

    next_fault = started + 5
    kills = terminated = 0
    slot = 0
    redis_restarted = False
    done = False
    while time.monotonic() - started < ARGS.timeout:
        time.sleep(0.5)
        now = time.monotonic()
        elapsed = now - started
        close_old_connections()
        try:
            if run is None:
                run = ScoringRun.objects.exclude(pk__in=runs_before).order_by("pk").first()
            else:
                run.refresh_from_db()
        except Exception as error:  # our own connection is never terminated, but be safe
            log(f"query failed: {error}")
            connection.close()
            continue
        if run is not None and run.status == "succeeded":
            done = True
            break
        if name == "kill" and elapsed <= FAULT_SECONDS and now >= next_fault:
            procs.kill_worker(slot)
            procs.start_worker(slot)
            kills += 1
            faults.append(elapsed)
            slot = 1 - slot
            next_fault += 5
        if name == "pg" and elapsed <= FAULT_SECONDS and now >= next_fault:
            terminated += terminate_backends()
            faults.append(elapsed)
            next_fault += 3
        if (
            name == "redis"
            and not redis_restarted
            and run is not None
            and run.chunks_done >= run.chunks_total / 3
        ):
            log(f"restarting redis empty at {run.chunks_done}/{run.chunks_total} chunks")
            REDIS.stop()
            REDIS.start()
            redis_restarted = True
            faults.append(time.monotonic() - started)
    total = time.monotonic() - started
    if name == "beats":
        time.sleep(15)  # both beats keep sending the nightly: nothing more may start
        PeriodicTask.objects.filter(task="scoring.tasks.recompute_all").update(enabled=False)
    procs.stop_all()

    new_runs = ScoringRun.objects.exclude(pk__in=runs_before)
    per_account = (
        HealthScore.objects.filter(run=run).values("account_id").annotate(n=Count("id"))
        if run
        else HealthScore.objects.none()
    )
    times = {row["n"] for row in per_account.values("n").distinct()} if run else set()
    scored_accounts = per_account.count() if run else 0
    run.refresh_from_db() if run else None
    last_fault = max(faults) if faults else None
    after_last = total - last_fault if last_fault is not None else None
    logs = procs.logs()
    figures = {
        "total seconds": round(total, 1),
        "against calm": "—" if calm_seconds is None else f"{total / calm_seconds:.2f}×",
        "accounts in the run": run.accounts_total if run else 0,
        "accounts scored (distinct)": scored_accounts,
        "scores per account": ", ".join(str(n) for n in sorted(times)) or "—",
        "runs started": new_runs.count(),
        "faults": {
            "calm": "none",
            "kill": f"{kills} SIGKILLs in {FAULT_SECONDS} s",
            "redis": "1 restart, empty" if redis_restarted else "none",
            "pg": f"{terminated} connections terminated, {len(faults)} rounds",
            "beats": "a second beat; the nightly sent every 5 s by both",
        }[name],
        "last fault at (s)": "—" if last_fault is None else round(last_fault, 1),
        "seconds from the last fault to the end": "—"
        if after_last is None
        else round(after_last, 1),
        "watchdog re-sends (worker log)": logs.count("has not moved for"),
        "nightly sent by the beats (beat logs)": procs.logs("beat").count(
            "(scoring.tasks.recompute_all)"
        ),
        "nightly calls that started nothing": logs.count("not starting another"),
        "chunks": f"{run.chunks_done}/{run.chunks_total}" if run else "—",
    }
    budget = None if calm_seconds is None else calm_seconds + 90
    checks = {
        "finished": done,
        "every account scored exactly once": bool(run)
        and scored_accounts == run.accounts_total
        and times == {1}
        and run.accounts_scored == run.accounts_total,
        "one run": new_runs.count() == 1,
    }
    if budget is not None and after_last is not None:
        checks["ended within calm + 90 s of the last fault"] = after_last <= budget
    for key, value in figures.items():
        log(f"  {key:<42} {value}")
    for key, ok in checks.items():
        log(f"  [{'ok' if ok else 'FAILED'}] {key}")
    connection.close()
    return {"figures": figures, "checks": checks}


def write_doc(results: dict[str, dict], calm: float) -> None:
    names = list(results)
    rows = list(next(iter(results.values()))["figures"])
    checks = sorted({c for r in results.values() for c in r["checks"]}, key=str)
    lines = [
        "# The nightly recompute under faults (measured)",
        "",
        f"Produced by `bench/faults.py --accounts {ARGS.accounts} --signals {ARGS.signals}` "
        f"on a {os.cpu_count()}-core machine shared with other work, "
        f"{time.strftime('%Y-%m-%d')}: PostgreSQL, a private Redis, two Celery workers "
        "(one process each) and celery beat, every setting at its default (chunks of "
        "5,000 accounts, the watchdog every 10 s, `VITALS_RECOMPUTE_STALL_AFTER` 20 s, "
        "visibility timeout 15 minutes). Each scenario recomputes every account once; "
        "`calm` is the undisturbed run of the same session, the others' yardstick.",
        "",
        "- `kill`: a worker SIGKILLed every 5 s for 75 s and started again at once;",
        "- `redis`: Redis shut down without saving and started again empty when a third "
        "of the chunks were done;",
        "- `pg`: every PostgreSQL connection to the database but the bench's own "
        "terminated every 3 s for 75 s;",
        "- `beats`: a second beat, and the nightly recompute sent every 5 s by both.",
        "",
        "| figure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *(
            f"| {row} | " + " | ".join(str(results[n]["figures"][row]) for n in names) + " |"
            for row in rows
        ),
        "",
        "| target | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *(
            f"| {check} | "
            + " | ".join(
                {True: "ok", False: "FAILED", None: "—"}[results[n]["checks"].get(check)]
                for n in names
            )
            + " |"
            for check in checks
        ),
        "",
        f"The budget after the last fault is calm's time plus 90 s: {calm + 90:.0f} s here. "
        "Seconds depend on the machine and its load; the exactly-once checks do not.",
        "",
    ]
    path = ROOT / "docs" / "faults.md"
    path.write_text("\n".join(lines))
    log(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    import django

    # The bench's own connection is spared by the "pg" scenario.
    os.environ["PGAPPNAME"] = "vitals-bench"
    django.setup()
    names = [n.strip() for n in ARGS.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if "calm" in names:
        names.remove("calm")
    REDIS.start(fresh=True)
    try:
        log(f"preparing {ARGS.accounts:,} accounts and {ARGS.signals:,} signals in {ARGS.db}")
        prepare()
        results = {"calm": run_scenario("calm", calm_seconds=None)}
        calm = results["calm"]["figures"]["total seconds"]
        for name in names:
            results[name] = run_scenario(name, calm_seconds=calm)
    finally:
        REDIS.stop()
    if not ARGS.no_write:
        write_doc(results, calm)
    return 0 if all(all(r["checks"].values()) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
