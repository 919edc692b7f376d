#!/usr/bin/env python
"""Signal ingest over HTTP, end to end, beside PostgreSQL's COPY of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitals_bench_ingest \\
        python bench/ingest.py
    DATABASE_URL=... python bench/ingest.py --sizes 1000,5000 --batches 40 --connections 4 \\
        --servers 2x1,3x1,2x4

Steps:

1. a fresh database (its name must contain "bench": it is dropped and created), migrated;
   ``--accounts`` accounts and ``--metrics`` metrics created through the ORM; an
   integration token with the ``signals:write`` scope;
2. for each server shape ``WxT`` (W gunicorn worker processes with T threads each),
   gunicorn serves ``config.wsgi`` on a free port with ``DEBUG=false`` and a throttle
   out of the way, and for each batch size: a warm-up, then ``--batches`` batches
   (every row a new signal with its own client id, random account, metric, value and
   time in the last 30 days) POSTed to /api/v1/signals/ by ``--connections`` client
   threads, each on a keep-alive connection (``http.client``); the bodies are encoded
   before the clock starts. Events/s = rows stored (as the responses count them) ÷
   wall time from the first request to the last response. Each shape and size is run
   ``--repeat`` times; the table shows medians, and the range of HTTP ÷ COPY;
3. COPY, measured just before each HTTP run (so that both meet the same machine): the
   same rows, in batches of the same size, written by psycopg's ``COPY scoring_signal …
   FROM STDIN`` (one transaction per batch), from one connection and from
   ``--connections`` connections at once; HTTP is compared with the faster of the two;
4. the signals table is emptied (TRUNCATE) before every measured run, so that each
   starts from the same table and indexes;
5. where a request's time goes, in this process: the CPU time (and wall time) of each
   step of one batch of the largest size — JSON parsing (DRF's parser, as the
   endpoint), validation (``signals_validate``), storage (``signals_store``) — and, for
   comparison, storage as one ``INSERT … SELECT FROM unnest(%s, …)`` with the columns
   as array parameters.

Results are printed as Markdown and written into docs/benchmarks.md between the
markers of this benchmark (``--docs ''`` to skip), and as JSON with ``--json FILE``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- bench/ingest.py: begin -->"
END = "<!-- bench/ingest.py: end -->"
HEADING = "## Signal ingest over HTTP"
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
COLUMNS = "(account_id, metric_id, value, timestamp, source, client_id, created_at)"


def log(message: str) -> None:
    print(f"[ingest {time.strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- Database ----------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "false")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    import django

    django.setup()


def seed(*, accounts: int, metrics: int) -> tuple[list[str], list[str], dict, dict, str]:
    from django.core.management import call_command

    from accounts.models import Account
    from accounts.tokens import api_token_create
    from scoring.models import Metric

    call_command("migrate", verbosity=0)
    Account.objects.bulk_create(
        Account(external_id=f"acct-{i:06d}", name=f"Company {i}") for i in range(accounts)
    )
    keys = ["logins", "seats_used_pct", "open_tickets", "nps", "csat", "late_invoices"]
    keys += [f"metric_{i}" for i in range(max(0, metrics - len(keys)))]
    Metric.objects.bulk_create(Metric(key=key, name=key) for key in keys[:metrics])
    _, raw = api_token_create(name="Ingest benchmark", scopes=["signals:write"])
    account_ids = dict(Account.objects.values_list("external_id", "id"))
    metric_ids = dict(Metric.objects.values_list("key", "id"))
    return list(account_ids), keys[:metrics], account_ids, metric_ids, raw


def truncate(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE scoring_signal")
        conn.execute("VACUUM ANALYZE scoring_signal")


def signal_count(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM scoring_signal").fetchone()[0]


# --- Rows --------------------------------------------------------------------------------


def make_rows(n: int, accounts: list[str], metrics: list[str], rng: random.Random) -> list[dict]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    tag = uuid.uuid4().hex[:10]
    rows = []
    for i in range(n):
        at = now - dt.timedelta(seconds=rng.randrange(30 * 86400))
        rows.append(
            {
                "account": rng.choice(accounts),
                "metric": rng.choice(metrics),
                "value": round(rng.uniform(0, 100), 3),
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "id": f"{tag}-{i}",
                "source": "bench",
            }
        )
    return rows


def batches_of(rows: list[dict], size: int) -> list[list[dict]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


# --- HTTP --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    *,
    url: str,
    workers: int,
    threads: int,
    port: int,
    settings: str = "config.settings.local",
    probe: str = "/api/schema/?format=json",
) -> subprocess.Popen:
    """gunicorn serving ``config.wsgi`` with ``settings``, once ``probe`` answers."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "API_THROTTLE_RATE": "1000000/min",
        "DJANGO_SETTINGS_MODULE": settings,
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore:No directory at",
    }
    command = [
        GUNICORN,
        "config.wsgi",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--access-logfile",
        "/dev/null",
        "--timeout",
        "120",
    ]
    if threads > 1:
        command += ["--worker-class", "gthread"]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def post_all(*, port: int, token: str, bodies: list[bytes], connections: int) -> dict:
    """POST every body over ``connections`` keep-alive connections; timings and counts."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    latencies: list[float] = []
    accepted = [0]
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client() -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            started = time.perf_counter()
            conn.request("POST", "/api/v1/signals/", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {payload[:200]!r}")
                else:
                    result = json.loads(payload)
                    accepted[0] += result["accepted"]
                    if result["rejected"] or result["duplicates"]:
                        failures.append(f"unexpected outcome: {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    latencies.sort()
    return {
        "rows": accepted[0],
        "seconds": wall,
        "events_per_s": accepted[0] / wall,
        "latency_p50_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * latencies[max(0, int(0.95 * len(latencies)) - 1)],
    }


# --- COPY --------------------------------------------------------------------------------


def copy_all(*, url: str, batches: list[list[tuple]], connections: int) -> dict:
    import psycopg

    queue = list(batches)
    lock = threading.Lock()
    written = [0]

    def writer() -> None:
        with psycopg.connect(url) as conn:
            while True:
                with lock:
                    if not queue:
                        break
                    batch = queue.pop()
                with (
                    conn.transaction(),
                    conn.cursor() as cursor,
                    cursor.copy(f"COPY scoring_signal {COLUMNS} FROM STDIN") as copy,
                ):
                    for row in batch:
                        copy.write_row(row)
                with lock:
                    written[0] += len(batch)

    threads = [threading.Thread(target=writer) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"rows": written[0], "seconds": wall, "events_per_s": written[0] / wall}


def measure_copy(*, url: str, rows: list[tuple], size: int, connections: int) -> dict:
    batches = batches_of(rows, size)
    truncate(url)
    single = copy_all(url=url, batches=batches, connections=1)
    truncate(url)
    concurrent = copy_all(url=url, batches=batches, connections=connections)
    return {"single": single, "concurrent": concurrent}


def as_copy_rows(rows: list[dict], account_ids: dict, metric_ids: dict) -> list[tuple]:
    """The rows as the API stores them (ids resolved, times parsed), for COPY."""
    created = dt.datetime.now(dt.UTC)
    return [
        (
            account_ids[r["account"]],
            metric_ids[r["metric"]],
            r["value"],
            dt.datetime.fromisoformat(r["timestamp"]),
            r["source"],
            f"copy-{r['id']}",
            created,
        )
        for r in rows
    ]


# --- Where a request's time goes ---------------------------------------------------------


def insert_unnest(cursor, batch, created) -> int:
    """The alternative to COPY: the batch as array parameters of one INSERT."""
    cursor.execute(
        f"INSERT INTO scoring_signal {COLUMNS}"
        " SELECT a, m, v, t, s, c, %s FROM unnest("
        "%s::bigint[], %s::bigint[], %s::float8[], %s::timestamptz[], %s::text[], %s::text[]"
        ") AS u(a, m, v, t, s, c) ON CONFLICT DO NOTHING RETURNING id",
        [
            created,
            [r.account_id for r in batch],
            [r.metric_id for r in batch],
            [r.value for r in batch],
            [r.timestamp for r in batch],
            [r.source for r in batch],
            [r.client_id for r in batch],
        ],
    )
    return len(cursor.fetchall())


def steps(*, url: str, size: int, accounts: list[str], metrics: list[str], rng) -> dict:
    """Median CPU and wall milliseconds of each step of one batch, in this process."""
    import io

    from django.db import connection, transaction
    from rest_framework.parsers import JSONParser

    from scoring.ingest import signals_validate
    from scoring.services import signals_store

    def timed(prepare) -> dict:
        cpu, wall = [], []
        for _ in range(9):
            action = prepare()
            started, started_cpu = time.perf_counter(), time.process_time()
            action()
            cpu.append(1000 * (time.process_time() - started_cpu))
            wall.append(1000 * (time.perf_counter() - started))
        return {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall)}

    def fresh_rows() -> list[dict]:
        return make_rows(size, accounts, metrics, rng)

    def valid_rows() -> list:
        good, bad = signals_validate(rows=fresh_rows())
        assert not bad, bad[:1]
        return [row for _, row in good]

    def parse():
        body = json.dumps({"signals": fresh_rows()}).encode()
        return lambda: JSONParser().parse(io.BytesIO(body), "application/json", {})

    def validate():
        rows = fresh_rows()
        return lambda: signals_validate(rows=rows)

    def store():
        rows = valid_rows()
        return lambda: signals_store(rows=rows)

    def unnest():
        rows = valid_rows()

        def run() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                insert_unnest(cursor, rows, dt.datetime.now(dt.UTC))

        return run

    truncate(url)
    results = {
        "JSON parsing (DRF's JSONParser)": timed(parse),
        "validation (`signals_validate`)": timed(validate),
        "storage (`signals_store`: binary COPY, INSERT … SELECT)": timed(store),
        "storage, alternative: INSERT … SELECT FROM unnest(array parameters)": timed(unnest),
    }
    truncate(url)
    connection.close()
    return results


# --- Report ------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"Measured {meta['date']} on {meta['machine']}; PostgreSQL {meta['postgresql']}, "
        f"Python {meta['python']}; {meta['accounts']:,} accounts, {meta['metrics']} metrics; "
        f"{meta['batches']} batches per run, {meta['connections']} client connections, "
        f"{meta['repeat']} runs per line (medians; the ratio's range in brackets); "
        f"load average before the run {meta['loadavg']}. Command: `{meta['command']}`.",
        "",
        "| server (gunicorn) | batch | HTTP events/s | p50 / p95 per request | "
        f"COPY events/s (1 / {meta['connections']} connections) | HTTP ÷ faster COPY, per run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        attempts = run["attempts"]

        def median(values) -> float:
            return statistics.median(list(values))

        ratios = sorted(a["ratio"] for a in attempts)
        lines.append(
            f"| {run['server']} | {run['batch']:,} | "
            f"{median(a['events_per_s'] for a in attempts):,.0f} | "
            f"{median(a['latency_p50_ms'] for a in attempts):,.0f} / "
            f"{median(a['latency_p95_ms'] for a in attempts):,.0f} ms | "
            f"{median(a['copy']['single']['events_per_s'] for a in attempts):,.0f} / "
            f"{median(a['copy']['concurrent']['events_per_s'] for a in attempts):,.0f} | "
            f"{100 * median(ratios):.0f} % ({100 * ratios[0]:.0f}–{100 * ratios[-1]:.0f} %) |"
        )
    lines += [
        "",
        f"Where a request's time goes: one batch of {meta['steps_batch']:,} rows, each step "
        "in one process, median of 9.",
        "",
        "| step | CPU of the web process | wall |",
        "|---|---:|---:|",
    ]
    for name, step in results["steps"].items():
        lines.append(f"| {name} | {step['cpu_ms']:.1f} ms | {step['wall_ms']:.1f} ms |")
    return "\n".join(lines)


def write_docs(path: Path, table: str) -> None:
    block = f"{BEGIN}\n{table}\n{END}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        _, after = rest.split(END, 1)
        text = before + block + after
    elif HEADING in text:
        text = text.replace(HEADING, f"{HEADING}\n\n{block}", 1)
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitals_bench_ingest"
        ),
    )
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--sizes", default="1000,5000", help="rows per request")
    parser.add_argument("--batches", type=int, default=40, help="measured requests per size")
    parser.add_argument("--connections", type=int, default=4, help="concurrent clients")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server shape and size")
    parser.add_argument(
        "--servers", default="2x1,3x1,2x4", help="gunicorn shapes: WORKERSxTHREADS, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--docs", default=str(DOCS), help="write the tables here ('' to skip)")
    parser.add_argument("--json", default="", help="also write the results as JSON here")
    args = parser.parse_args()

    url = args.database_url
    sizes = [int(size) for size in args.sizes.split(",")]
    shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.servers.split(",")]
    rng = random.Random(args.seed)

    log(f"database {urlsplit(url).path.lstrip('/')}: recreating, migrating, seeding")
    recreate_database(url)
    django_setup(url)
    accounts, metrics, account_ids, metric_ids, token = seed(
        accounts=args.accounts, metrics=args.metrics
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    connection.close()

    results: dict = {
        "meta": {
            "date": dt.date.today().isoformat(),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}",
            "postgresql": pg_version.split()[0],
            "python": platform.python_version(),
            "accounts": args.accounts,
            "metrics": args.metrics,
            "batches": args.batches,
            "repeat": args.repeat,
            "connections": args.connections,
            "loadavg": loadavg(),
            "command": " ".join(["python bench/ingest.py", *sys.argv[1:]]),
            "steps_batch": max(sizes),
        },
        "runs": [],
    }
    results["steps"] = steps(url=url, size=max(sizes), accounts=accounts, metrics=metrics, rng=rng)
    for name, step in results["steps"].items():
        log(f"{name}: {step['cpu_ms']:.1f} ms CPU, {step['wall_ms']:.1f} ms wall")

    for workers, threads in shapes:
        port = free_port()
        server = start_server(url=url, workers=workers, threads=threads, port=port)
        shape = f"{workers} workers × {threads} thread{'s' if threads > 1 else ''}"
        try:
            for size in sizes:
                warm = [
                    json.dumps({"signals": batch}).encode()
                    for batch in batches_of(make_rows(size * 4, accounts, metrics, rng), size)
                ]
                post_all(port=port, token=token, bodies=warm, connections=args.connections)
                attempts = []
                for attempt in range(args.repeat):
                    rows = make_rows(size * args.batches, accounts, metrics, rng)
                    copy = measure_copy(
                        url=url,
                        rows=as_copy_rows(rows, account_ids, metric_ids),
                        size=size,
                        connections=args.connections,
                    )
                    bodies = [
                        json.dumps({"signals": batch}).encode() for batch in batches_of(rows, size)
                    ]
                    truncate(url)
                    http = post_all(
                        port=port, token=token, bodies=bodies, connections=args.connections
                    )
                    stored = signal_count(url)
                    if stored != len(rows):
                        raise RuntimeError(f"{stored} signals stored, {len(rows)} sent")
                    best = max(copy["single"]["events_per_s"], copy["concurrent"]["events_per_s"])
                    attempts.append({**http, "copy": copy, "ratio": http["events_per_s"] / best})
                    log(
                        f"HTTP, {shape}, batches of {size:,}, run {attempt + 1}: "
                        f"{http['events_per_s']:,.0f} events/s (p50 {http['latency_p50_ms']:,.0f} "
                        f"ms, p95 {http['latency_p95_ms']:,.0f} ms); COPY "
                        f"{copy['single']['events_per_s']:,.0f} events/s from 1 connection, "
                        f"{copy['concurrent']['events_per_s']:,.0f} from {args.connections}"
                    )
                results["runs"].append(
                    {
                        "server": shape,
                        "workers": workers,
                        "threads": threads,
                        "batch": size,
                        "attempts": attempts,
                    }
                )
        finally:
            stop_server(server)

    table = markdown(results)
    print()
    print(table)
    if args.docs:
        write_docs(Path(args.docs), table)
        log(f"written into {args.docs}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        log(f"written into {args.json}")


if __name__ == "__main__":
    main()
