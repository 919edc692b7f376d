#!/usr/bin/env python
"""The pages at scale: each page, as each role, beside a minimal index-backed view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitals_bench_pages \\
        python bench/pages.py --sizes 10000,100000,1000000

Steps, for each book size N (accounts):

1. the data, in the benchmark's own database (its name must contain "bench"; it is
   dropped and created, unless ``--reuse`` finds the same size there): N accounts and
   10 signals per account over the 60 days before tonight (bench/data.py: generated in
   PostgreSQL, seeded), owned by CSMs of 5,000 accounts each, spread through the table;
   a manager whose team is ten of them (50,000 accounts at a million); an admin. The
   book is scored by the real recompute twice (last night, with two older nights in
   between so trends exist, then tonight), so history, latest scores, trends and score
   events are the product's own. A sample of one account in a thousand gets a year of
   daily history. The CSM measured has 3,000 open tasks (overdue, due today, upcoming,
   snoozed), every other CSM one per hundred accounts;
2. gunicorn serves the product (``config.wsgi`` with the benchmark's URLs, 2 workers of
   4 threads as gunicorn.conf.py runs them, DEBUG off) and ``/bench/minimal/``: 50 accounts in name order through an
   index, behind the same middleware and login (bench/pages_site.py);
3. each page of ``PAGES`` as its role, and the minimal view, requested in rounds: in
   each round every page once, in a shuffled order, one request at a time over a
   keep-alive connection per role, after a warm-up round. Per page: p50 and p95 of the
   wall time from request to last byte, and its time ÷ the minimal view's in the same
   round (median, 10th–90th percentile of the rounds);
4. the queries each page runs, counted in this process through Django's test client;
5. the CSV export of the At-risk list (admin) streamed over HTTP, beside ``COPY`` of the
   same SELECT (the export's own statement, accounts.export.copy_statement) run by
   psycopg in this process, interleaved; the time to the first byte, the total, and
   the resident memory of the web workers before and at their peak during the export;
   the same for the API's CSV of the list (``Accept: text/csv``) as an integration.

Results are printed as Markdown and written into docs/benchmarks.md between this
benchmark's markers (``--docs ''`` to skip), and as JSON with ``--json FILE``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, recreate_database, start_server, stop_server  # noqa: E402
from bench.recompute import Sampler, _children, loadavg, machine, write_docs  # noqa: E402
from bench.workers import django_setup  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
SETTINGS = "bench.pages_settings"
PER_CSM = 5_000
TEAM_SIZE = 10
MEASURED_CSM_TASKS = {"overdue": 1_000, "today": 100, "upcoming": 1_700, "snoozed": 200}

# (role, page, path); {account} is an account of the role's book.
PAGES = [
    ("admin", "account list", "/accounts/"),
    ("admin", "At risk", "/accounts/?band=At+risk"),
    ("admin", "sort by score", "/accounts/?sort=score"),
    ("admin", "sort by 30-day change", "/accounts/?sort=trend_30d"),
    ("admin", "search", "/accounts/?q=Account+4242"),
    ("admin", "home", "/"),
    ("admin", "team", "/team/"),
    ("admin", "account page", "/accounts/{account}/"),
    ("manager", "account list", "/accounts/"),
    ("manager", "At risk", "/accounts/?band=At+risk"),
    ("manager", "home", "/"),
    ("manager", "team", "/team/"),
    ("csm", "account list", "/accounts/"),
    ("csm", "At risk", "/accounts/?band=At+risk"),
    ("csm", "home", "/"),
    ("csm", "tasks", "/tasks/"),
    ("csm", "account page", "/accounts/{account}/"),
    # The CSM's day: the queue filtered, what was done, the bell's list, search
    # everywhere, a saved view; a manager's look at a member's queue and search.
    ("csm", "tasks, filtered", "/tasks/?priority=high&due=week"),
    ("csm", "done tasks", "/tasks/done/"),
    ("csm", "notifications", "/notifications/"),
    ("csm", "search everywhere", "/search/?q=Account+42"),
    ("csm", "saved view", "{saved_view}"),
    ("manager", "a member's tasks", "/tasks/?person=csm-000"),
    ("manager", "search everywhere", "/search/?q=Account+42"),
    # The API as an integration (every account), 50 a page: by cursor and by number at
    # the middle of the book, the first page in name and in score order.
    ("api", "API accounts, first page", "/api/v1/accounts/?page_size=50"),
    ("api", "API accounts, cursor at the middle", "/api/v1/accounts/?page_size=50&cursor={cursor}"),
    ("api", "API accounts, ?page= at the middle", "/api/v1/accounts/?page_size=50&page={page}"),
    ("api", "API accounts by score, first page", "/api/v1/accounts/?page_size=50&ordering=score"),
]
MINIMAL = ("admin", "minimal view", "/bench/minimal/")


def log(message: str) -> None:
    print(f"[pages {time.strftime('%H:%M:%S')}] {message}", flush=True)


def sql(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


# --- Data --------------------------------------------------------------------------------


def build(*, accounts: int, tonight: dt.datetime) -> dict:
    """The book, its people, scores, history and tasks (step 1); what it made."""
    from django.core.management import call_command

    from bench import data
    from bench.recompute import _older_nights, _run_ours_processes

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    data.AS_OF = tonight  # the data's "tonight" is tonight: pages read today's date
    scenario = data.create_model()
    data.generate_accounts(count=accounts)
    people = people_create(accounts=accounts)
    data.generate_signals(accounts=accounts, count=10 * accounts, metrics=scenario.metrics)
    data.vacuum_analyze("accounts_account", "scoring_signal")
    last_night = _run_ours_processes(
        as_of=tonight - dt.timedelta(days=1), workers=2, chunk_size=None, label="last night"
    )
    _older_nights(scenario, source_run=last_night["run_id"])
    tonight_run = _run_ours_processes(as_of=tonight, workers=2, chunk_size=None, label="tonight")
    year = history_year(source_run=tonight_run["run_id"])
    tasks = tasks_create(people=people, today=tonight.date())
    for table in (
        "accounts_account",
        "scoring_healthscore",
        "scoring_accounthealth",
        "scoring_scoreevent",
        "playbooks_task",
    ):
        sql(f"VACUUM ANALYZE {table}")
    return {
        "accounts": accounts,
        "signals": 10 * accounts,
        "history_rows": sql("SELECT count(*) FROM scoring_healthscore")[0][0],
        "year_sample_accounts": year,
        "open_tasks": tasks,
        "csms": len(people["csms"]),
        "manager_accounts": people["manager_accounts"],
        "build_s": round(time.perf_counter() - started, 1),
        "recompute_s": [round(last_night["wall_s"], 1), round(tonight_run["wall_s"], 1)],
    }


def people_create(*, accounts: int) -> dict:
    """An admin, CSMs of PER_CSM accounts each (an account's owner picked by a hash of
    its id: a book is spread through the table, as accounts arrive over the years), a
    manager of the first TEAM_SIZE of them."""
    from accounts.models import Team, User

    admin = User.objects.create_user("bench-admin", role=User.Role.ADMIN)
    manager = User.objects.create_user("bench-manager", role=User.Role.MANAGER)
    count = max(1, accounts // PER_CSM)
    csms = [User.objects.create_user(f"csm-{i:03d}", role=User.Role.CSM) for i in range(count)]
    team = Team.objects.create(name="Bench team")
    team.members.set(csms[:TEAM_SIZE])
    team.managers.set([manager])
    ids = "ARRAY[" + ",".join(str(u.pk) for u in csms) + "]::bigint[]"
    sql(
        f"UPDATE accounts_account SET owner_id = ({ids})[1 + (hashint8(id) & 2147483647) %% %s]",
        [count],
    )
    return {
        "admin": admin,
        "manager": manager,
        "csm": csms[0],
        "csms": csms,
        "manager_accounts": sql(
            "SELECT count(*) FROM accounts_account WHERE owner_id = ANY(%s)",
            [[u.pk for u in csms[:TEAM_SIZE]]],
        )[0][0],
    }


def history_year(*, source_run: int) -> int:
    """A year of daily history for one account in a thousand: tonight's row, moved back
    a day at a time, the score moved by a seeded random step (band by the new score)."""
    from bench.recompute import load_scenario

    bands = sorted(load_scenario().bands.values(), key=lambda b: -b.lower)
    band = "CASE WHEN s IS NULL THEN NULL"
    for b in bands:
        band += f" WHEN s >= {b.lower!r} THEN {b.id}"
    band += " END"
    sql("SELECT setseed(0.7)")
    sql(
        "INSERT INTO scoring_healthscore (account_id, run_id, model_id, score, band_id,"
        " confirmed_band_id, pending_count, rebaseline, completeness, breakdown, computed_at)"
        f" SELECT account_id, NULL, model_id, s, {band}, {band}, 0, false, completeness,"
        " breakdown,"
        " computed_at - d * interval '1 day'"
        " FROM (SELECT h.*, d, CASE WHEN score IS NULL THEN NULL"
        "  ELSE greatest(0.0, least(100.0, score + random() * 20 - 10)) END AS s"
        "  FROM scoring_healthscore h, generate_series(2, 365) d"
        "  WHERE run_id = %s AND account_id %% 1000 = 1"
        "  AND d NOT IN (8, 31)) x",
        [source_run],
    )
    return sql(
        "SELECT count(*) FROM scoring_healthscore WHERE run_id = %s AND account_id %% 1000 = 1",
        [source_run],
    )[0][0]


def tasks_create(*, people: dict, today: dt.date) -> int:
    """The measured CSM's open tasks in every bucket of the queue, one account each;
    one open task per hundred accounts for everyone else."""
    columns = (
        "account_id, title, description, priority, due_date, assignee_id, status,"
        " snoozed_until, created_at, close_reason"
    )
    # bucket: (due date, status, snoozed until), in days from today; g numbers the rows
    buckets = {
        "overdue": ("-1 - g %% 60", "open", "NULL"),
        "today": ("0", "open", "NULL"),
        "upcoming": ("1 + g %% 60", "open", "NULL"),
        "snoozed": ("-5", "snoozed", "%s::date + (3 + g %% 10)::int"),
    }
    first = 0
    for bucket, count in MEASURED_CSM_TASKS.items():
        due, status, snoozed = buckets[bucket]
        params = [today, *([today] if "%s" in snoozed else []), people["csm"].pk, first, count]
        sql(
            f"INSERT INTO playbooks_task ({columns})"
            f" SELECT id, 'Follow up with ' || name, '', 'normal', %s::date + ({due})::int,"
            f" owner_id, '{status}', {snoozed}, now(), ''"
            " FROM (SELECT id, name, owner_id, row_number() OVER (ORDER BY id) AS g"
            "  FROM accounts_account WHERE owner_id = %s ORDER BY id OFFSET %s LIMIT %s) a",
            params,
        )
        first += count
    sql(
        f"INSERT INTO playbooks_task ({columns})"
        " SELECT id, 'Check in with ' || name, '', 'normal', %s::date + (id %% 30 - 10)::int,"
        " owner_id, 'open', NULL, now(), ''"
        " FROM accounts_account WHERE id %% 100 = 7 AND owner_id <> %s",
        [today, people["csm"].pk],
    )
    return sql("SELECT count(*) FROM playbooks_task WHERE status IN ('open', 'snoozed')")[0][0]


def dataset(*, accounts: int, tonight: dt.datetime, reuse: bool) -> dict:
    """The data of this size: built, or found from an earlier run with ``reuse``."""
    sql("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    fingerprint = f"pages accounts={accounts} tonight={tonight.date()}"
    found = sql("SELECT value FROM bench_meta WHERE key = 'dataset'")
    if reuse and found and json.loads(found[0][0]).get("fingerprint") == fingerprint:
        from django.core.management import call_command

        log(f"reusing the data of an earlier run ({fingerprint})")
        call_command("migrate", verbosity=0)
        return json.loads(found[0][0])
    raise_if_not_fresh()
    made = {"fingerprint": fingerprint, **build(accounts=accounts, tonight=tonight)}
    sql(
        "INSERT INTO bench_meta VALUES ('dataset', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [json.dumps(made)],
    )
    return made


def raise_if_not_fresh() -> None:
    if (
        sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'accounts_account'")[
            0
        ][0]
        and sql("SELECT EXISTS (SELECT 1 FROM accounts_account)")[0][0]
    ):
        raise SystemExit("The database already holds accounts: run on a fresh one.")


# --- Measuring ---------------------------------------------------------------------------


def sessions(people: dict) -> dict[str, str]:
    """A logged-in session per role (the session cookie's value)."""
    from django.test import Client

    cookies = {}
    for role in ("admin", "manager", "csm"):
        client = Client()
        client.force_login(people[role])
        cookies[role] = client.cookies["sessionid"].value
    return cookies


def people_get() -> dict:
    from accounts.models import User

    return {
        "admin": User.objects.get(username="bench-admin"),
        "manager": User.objects.get(username="bench-manager"),
        "csm": User.objects.get(username="csm-000"),
    }


def paths(people: dict, accounts: int) -> dict[tuple[str, str], str]:
    """Each page's path with its {account} filled in: a scored account of the CSM's
    book, one with a year of history if the book has one; and the API's middle page,
    by number and by the cursor that its ``next`` link would carry there."""
    import base64

    (account,) = sql(
        "SELECT a.id FROM accounts_account a JOIN scoring_accounthealth h"
        " ON h.account_id = a.id WHERE a.owner_id = %s"
        " ORDER BY (a.id %% 1000 = 1) DESC, a.id LIMIT 1",
        [people["csm"].pk],
    )[0]
    page = accounts // 2 // 50 + 1
    name, pk = sql(
        "SELECT name, id FROM accounts_account ORDER BY name, id OFFSET %s LIMIT 1",
        [(page - 1) * 50 - 1],
    )[0]
    payload = json.dumps({"o": "name,pk", "v": [name, pk]}, separators=(",", ":"))
    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    saved_view = day_of_the_csm(people)
    return {
        (role, label): path.format(account=account, cursor=cursor, page=page, saved_view=saved_view)
        for role, label, path in [*PAGES, MINIMAL]
    }


def day_of_the_csm(people: dict) -> str:
    """What the CSM's day reads beside the book, made afresh for each run (so reused
    data gets it too): 300 notifications (a third unread), 1,000 of their tasks done in
    the last months, and a saved view of their At-risk accounts by ARR; its URL."""
    from django.utils import timezone

    from accounts.models import SavedView
    from accounts.services.saved_views import saved_view_create
    from notifications.models import Notification

    csm = people["csm"]
    now = timezone.now()
    Notification.objects.filter(user=csm).delete()
    sql(
        "INSERT INTO notifications_notification (user_id, kind, account_id, title, url, key,"
        " created_at, read_at)"
        " SELECT %s, 'level_worse', a.id, a.name || ' is now At-risk (was Neutral)',"
        " '/accounts/' || a.id || '/', 'bench:' || a.id, %s - n * interval '1 hour',"
        " CASE WHEN n %% 3 = 0 THEN NULL ELSE %s END"
        " FROM (SELECT id, name, row_number() OVER (ORDER BY id) AS n FROM accounts_account"
        " WHERE owner_id = %s LIMIT 300) a",
        [csm.pk, now, now, csm.pk],
    )
    sql(
        "UPDATE playbooks_task SET status = 'done', completed_at = %s - (id %% 2000) * interval"
        " '1 hour' WHERE id IN (SELECT id FROM playbooks_task WHERE assignee_id = %s AND"
        " status = 'open' AND due_date > %s ORDER BY id LIMIT 1000)",
        [now, csm.pk, now.date() + dt.timedelta(days=30)],
    )
    SavedView.objects.filter(owner=csm).delete()
    view = saved_view_create(
        owner=csm, name="My At-risk by ARR", query="level=at_risk&sort=-arr", bands=[], now=now
    )
    sql("ANALYZE notifications_notification")
    sql("ANALYZE playbooks_task")
    return view.get_absolute_url()


def api_token() -> str:
    """A fresh integration token (every account) that reads accounts."""
    from accounts.tokens import api_token_create

    _, raw = api_token_create(name="bench pages", scopes=["accounts:read"])
    return raw


def query_counts(people: dict, targets: dict, token: str) -> dict[tuple[str, str], int]:
    """Queries per page, through Django's test client in this process (step 4)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for (role, page), path in targets.items():
        if role == "api":
            client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
        else:
            client = Client(HTTP_HOST="localhost")
            client.force_login(people[role])
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{role} {path}: HTTP {response.status_code}")
        counts[(role, page)] = len(captured)
    return counts


class Browser:
    """One role's keep-alive connection to the server; a connection the server closed
    (its keep-alive ran out) is opened again, and the request sent again untimed."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.headers = {"Host": "localhost", **headers}
        self.conn = HTTPConnection("127.0.0.1", port, timeout=600)

    def get(self, path: str) -> tuple[float, int]:
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
            except (ConnectionError, OSError):
                self.conn.close()
                self.conn = HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
            return elapsed, len(body)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def measure_pages(*, port: int, targets: dict, headers: dict, rounds: int) -> dict:
    """Every page once per round, shuffled (step 3); times in seconds per page."""
    browsers = {role: Browser(port, sent) for role, sent in headers.items()}
    times: dict[tuple[str, str], list[float]] = {key: [] for key in targets}
    sizes: dict[tuple[str, str], int] = {}
    order = list(targets)
    rng = random.Random(7)
    for round_ in range(rounds + 1):
        rng.shuffle(order)
        for key in order:
            elapsed, size = browsers[key[0]].get(targets[key])
            if round_:  # round 0 is the warm-up
                times[key].append(elapsed)
            sizes[key] = size
    for browser in browsers.values():
        browser.close()
    return {"times": times, "sizes": sizes}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * (len(ordered) - 1))))]


def summarize(times: dict, sizes: dict, queries: dict) -> list[dict]:
    minimal = times[MINIMAL[:2]]
    rows = []
    for key, values in times.items():
        ratios = [v / m for v, m in zip(values, minimal, strict=True)]
        rows.append(
            {
                "role": key[0],
                "page": key[1],
                "p50_ms": 1000 * statistics.median(values),
                "p95_ms": 1000 * percentile(values, 0.95),
                "p95_ratio": percentile(values, 0.95) / percentile(minimal, 0.95),
                "ratio_median": statistics.median(ratios),
                "ratio_p10": percentile(ratios, 0.10),
                "ratio_p90": percentile(ratios, 0.90),
                "queries": queries[key],
                "kb": sizes[key] / 1024,
            }
        )
    return rows


EXPORTS = {
    "page": "/accounts/export.csv?band=At+risk",
    "api": "/api/v1/accounts/?band=At+risk&format=csv",
}


def measure_export(*, port: int, headers: dict, server_pid: int, repeat: int) -> dict:
    """The At-risk list's CSV over HTTP, from the page (as the admin) and from the API
    (as an integration), beside COPY of its SELECT, interleaved (step 5)."""
    from django.db import connection

    from accounts.export import copy_statement
    from accounts.filters import AccountFilter
    from accounts.models import Account
    from scoring.selectors import band_names

    account_filter = AccountFilter(
        {"band": "At risk"},
        queryset=Account.objects.select_related("owner", "health__band"),
        owners=None,
        bands=band_names(),
    )
    statement = copy_statement(account_filter.qs)
    runs: dict[str, list[dict]] = {door: [] for door in EXPORTS}
    copy_runs = []
    for _ in range(repeat):
        for door, path in EXPORTS.items():
            runs[door].append(
                _export_over_http(
                    port=port,
                    path=path,
                    headers=headers["admin" if door == "page" else "api"],
                    server_pid=server_pid,
                )
            )
        connection.ensure_connection()
        started = time.perf_counter()
        copied = 0
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in copy:
                copied += len(row)
        copy_runs.append({"seconds": time.perf_counter() - started, "bytes": copied})
    rows = sql(
        "SELECT count(*) FROM accounts_account a JOIN scoring_accounthealth h"
        " ON h.account_id = a.id JOIN scoring_band b ON b.id = h.band_id"
        " WHERE upper(b.name) = 'AT RISK'"
    )[0][0]
    ratios = {
        door: [h["seconds"] / c["seconds"] for h, c in zip(door_runs, copy_runs, strict=True)]
        for door, door_runs in runs.items()
    }
    return {
        "rows": rows,
        "http": runs["page"],
        "api": runs["api"],
        "copy": copy_runs,
        "ratios": ratios["page"],
        "api_ratios": ratios["api"],
    }


def _export_over_http(*, port: int, path: str, headers: dict, server_pid: int) -> dict:
    """One CSV download: time to the first byte and in all, bytes, web workers' memory."""
    workers = _children(server_pid)
    before = {pid: _rss_kb(pid) for pid in workers}
    sampler = Sampler(workers)
    sampler.start()
    conn = HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Host": "localhost", **headers})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}: {response.read(300)!r}")
    first = response.read(1)
    first_byte = time.perf_counter() - started
    total = len(first)
    while chunk := response.read(1 << 16):
        total += len(chunk)
    wall = time.perf_counter() - started
    conn.close()
    peaks = sampler.stop()
    return {
        "seconds": wall,
        "first_byte_s": first_byte,
        "bytes": total,
        "rss_before_mb": max(before.values()) / 1024,
        "rss_peak_mb": max([*before.values(), *(p.get("VmRSS", 0) for p in peaks.values())]) / 1024,
    }


def _rss_kb(pid: int) -> int:
    from bench.workers import proc_status

    return proc_status(pid).get("VmRSS", 0)


def bench_size(args, *, accounts: int, url: str) -> dict:
    tonight = dt.datetime.combine(dt.date.today(), dt.time(2), tzinfo=dt.UTC)
    made = dataset(accounts=accounts, tonight=tonight, reuse=args.reuse)
    people = people_get()
    targets = paths(people, accounts)
    token = api_token()
    queries = query_counts(people, targets, token)
    headers = {role: {"Cookie": f"sessionid={cookie}"} for role, cookie in sessions(people).items()}
    headers["api"] = {"Authorization": f"Bearer {token}"}
    port = free_port()
    log(f"{accounts:,} accounts: measuring {len(targets)} pages, {args.rounds} rounds")
    server = start_server(
        url=url, workers=2, threads=4, port=port, settings=SETTINGS, probe="/login/"
    )
    try:
        load_before = loadavg()
        measured = measure_pages(port=port, targets=targets, headers=headers, rounds=args.rounds)
        export = measure_export(
            port=port, headers=headers, server_pid=server.pid, repeat=args.export_repeat
        )
        load_after = loadavg()
    finally:
        stop_server(server)
    return {
        "data": made,
        "pages": summarize(measured["times"], measured["sizes"], queries),
        "export": export,
        "load": f"{load_before} → {load_after}",
        "rounds": args.rounds,
    }


# --- Report ------------------------------------------------------------------------------


def listing(values: list[float], form: str) -> str:
    return ", ".join(form.format(v) for v in values)


def markdown(results: list[dict], *, info: dict, started: str, command: str) -> str:
    out = [
        "## Pages at scale",
        "",
        f"Measured {started} on {info['nproc']} cores ({info['cpu']}), {info['memory_gb']} GB,"
        f" PostgreSQL {info['postgresql']}, commit {info['commit']}. Command: `{command}`."
        " gunicorn, 2 workers of 4 threads, DEBUG off; one request at a time. Each page's time is"
        " from request to last byte; its ratio is to the minimal index-backed view"
        " (50 accounts in name order) requested in the same round.",
        "",
    ]
    for result in results:
        d = result["data"]
        out += [
            f"### {d['accounts']:,} accounts",
            "",
            f"{d['signals']:,} signals, {d['history_rows']:,} history rows (a year of daily"
            f" history for {d['year_sample_accounts']:,} accounts), {d['open_tasks']:,} open"
            f" tasks (3,000 of them the measured CSM's), {d['csms']} CSMs of up to"
            f" {PER_CSM:,} accounts, the manager's team {d['manager_accounts']:,} accounts."
            f" {result['rounds']} rounds; load average {result['load']}.",
            "",
            "| role | page | p50 | p95 | p95 ÷ minimal | ratio per round: median (p10–p90) |"
            " queries | HTML |",
            "|---|---|---:|---:|---:|---|---:|---:|",
        ]
        for row in result["pages"]:
            out.append(
                f"| {row['role']} | {row['page']} | {row['p50_ms']:.0f} ms |"
                f" {row['p95_ms']:.0f} ms | {row['p95_ratio']:.2f}× |"
                f" {row['ratio_median']:.2f}× ({row['ratio_p10']:.2f}–{row['ratio_p90']:.2f}) |"
                f" {row['queries']} | {row['kb']:.0f} kB |"
            )
        e = result["export"]
        http = e["http"]
        out += [
            "",
            f"CSV export of the At-risk list as the admin ({e['rows']:,} rows,"
            f" {http[0]['bytes'] / 1e6:.1f} MB): over HTTP"
            f" {listing([h['seconds'] for h in http], '{:.2f} s')} (first byte after"
            f" {listing([1000 * h['first_byte_s'] for h in http], '{:.0f} ms')}); COPY of the"
            f" same SELECT {listing([c['seconds'] for c in e['copy']], '{:.2f} s')}:"
            f" **{statistics.median(e['ratios']):.2f}×** COPY (runs"
            f" {listing(e['ratios'], '{:.2f}×')}). Web workers' resident memory:"
            f" {max(h['rss_before_mb'] for h in http):.0f} MB before, at most"
            f" {max(h['rss_peak_mb'] for h in http):.0f} MB during the export.",
            "",
        ]
        api = e["api"]
        out += [
            "The same list from the API as an integration (`?band=At+risk&format=csv`,"
            f" {api[0]['bytes'] / 1e6:.1f} MB): {listing([h['seconds'] for h in api], '{:.2f} s')}"
            f" (first byte after {listing([1000 * h['first_byte_s'] for h in api], '{:.0f} ms')}):"
            f" **{statistics.median(e['api_ratios']):.2f}×** COPY (runs"
            f" {listing(e['api_ratios'], '{:.2f}×')}); web workers at most"
            f" {max(h['rss_peak_mb'] for h in api):.0f} MB.",
            "",
        ]
        by_page = {row["page"]: row for row in result["pages"]}
        first = by_page["API accounts, first page"]
        cursor = by_page["API accounts, cursor at the middle"]
        numbered = by_page["API accounts, ?page= at the middle"]
        out += [
            f"API pages at the middle of the book (row {d['accounts'] // 2:,}): by cursor p95"
            f" {cursor['p95_ms']:.0f} ms, {cursor['p95_ms'] / first['p95_ms']:.2f}× the first"
            f" page's {first['p95_ms']:.0f} ms; by number (`?page=`) p95 {numbered['p95_ms']:.0f}"
            f" ms, {numbered['p95_ms'] / cursor['p95_ms']:.1f}× the cursor's.",
            "",
        ]
    if len(results) > 1:
        out += [
            "### Growth (p95, ms)",
            "",
            "| role | page | " + " | ".join(f"{r['data']['accounts']:,}" for r in results) + " |",
            "|---|---|" + "---:|" * len(results),
        ]
        for i, row in enumerate(results[0]["pages"]):
            cells = " | ".join(f"{r['pages'][i]['p95_ms']:.0f}" for r in results)
            out.append(f"| {row['role']} | {row['page']} | {cells} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="book sizes, e.g. 10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds per size")
    parser.add_argument("--export-repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the data of the same size")
    parser.add_argument("--docs", default=str(DOCS), help="Markdown file to update ('' = none)")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in urlsplit(url).path:
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database whose name has 'bench'.")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.reuse and len(sizes) > 1:
        raise SystemExit("--reuse keeps one size's data: give one size with it.")
    # One secret for this process and the server: the sessions made here are theirs.
    os.environ.setdefault("SECRET_KEY", "bench-pages-" + "x" * 40)
    os.environ.setdefault("VITALS_VAR_DIR", tempfile.mkdtemp(prefix="vitals-bench-pages-"))
    os.environ["VITALS_AFTER_RECOMPUTE_TASKS"] = ""
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    # Static files are served from the source folders here, not collected.
    warnings.filterwarnings("ignore", "No directory at")
    django_setup()
    from django.db import connections

    started = time.strftime("%Y-%m-%d %H:%M %Z")
    results: list[dict] = []
    info: dict = {}
    for accounts in sizes:
        if not args.reuse:
            connections.close_all()  # the database is dropped under this connection
            recreate_database(url)
        info = info or machine()
        results.append(bench_size(args, accounts=accounts, url=url))
    command = " ".join(["python", "bench/pages.py", *sys.argv[1:]])
    text = markdown(results, info=info, started=started, command=command)
    print(text)
    if args.json:
        saved = {"machine": info, "results": results, "started": started, "command": command}
        Path(args.json).write_text(json.dumps(saved, indent=2, default=str))
    if args.docs:
        write_docs(Path(args.docs), mode="pages", text=text, name="bench/pages.py")


if __name__ == "__main__":
    main()
