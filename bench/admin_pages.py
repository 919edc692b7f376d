#!/usr/bin/env python
"""The admin's changelists of the large tables on a big book, beside a minimal
index-backed view measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitals_bench_admin \\
        python bench/admin_pages.py --accounts 1000000 --signals 10000000 --history-seconds 600

1. data (skipped with ``--reuse``): a fresh database (its name must contain "bench"),
   migrated; the accounts, their signals, the metrics and the model of
   ``bench/data.py``; twenty CSMs owning the accounts; one night of scores for every
   customer (a score, its band, a breakdown of eight components), written for as many
   nights as ``--history-seconds`` allows, oldest first from a year before the data's
   as-of date, one INSERT … SELECT and a run row per night (the history's secondary indexes
   are dropped during the load and built again after it); the latest score of each
   account and a score event for one in twenty from the last night; ``--tasks`` open
   tasks; VACUUM ANALYZE;
2. the pages, as the admin, through Django's test client in this process (the whole
   middleware stack: sessions, authentication, CSP, messages), round-robin with a
   minimal view (logged in too) that reads 50 accounts along the primary key and writes
   them as a table: after a warm-up, ``--requests`` timed requests of each, p50 and
   p95, the queries of one request and its slowest statement.

The results are printed as Markdown and written into docs/benchmarks.md between the
markers (``--docs ''`` to skip). Speed is measured here, never in the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import loadavg, recreate_database  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench/admin_pages.py: begin -->", "<!-- bench/admin_pages.py: end -->"
CSMS = 20


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def django_setup() -> None:
    os.environ.setdefault("DEBUG", "false")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.setdefault("VITALS_VAR_DIR", str(Path("/tmp") / "vitals-bench-admin"))
    Path(os.environ["VITALS_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


# --- Data ----------------------------------------------------------------------------------


def _execute(sql: str, params=None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def _count(sql: str, params=None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i"
            " WHERE i.tablename = %s AND i.indexname NOT IN ("
            "  SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u')"
            "  AND conrelid = %s::regclass)",
            [table, table],
        )
        return cursor.fetchall()


def _run(as_of: dt.datetime, model_id: int, accounts: int) -> int:
    from scoring.models import ScoringRun

    return ScoringRun.objects.create(
        status=ScoringRun.Status.SUCCEEDED,
        as_of=as_of,
        trigger="nightly",
        model_ids=[model_id],
        chunks_total=1,
        chunks_done=1,
        accounts_total=accounts,
        accounts_scored=accounts,
        created_at=as_of,
        started_at=as_of,
        finished_at=as_of,
    ).pk


def build(args) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench.data import AS_OF, create_model, generate_accounts, generate_signals

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    scenario = create_model()
    generate_accounts(count=args.accounts)
    User = get_user_model()
    User.objects.create_superuser("admin", "admin@example.com", "vitals-bench")
    csms = [
        User.objects.create_user(f"csm{i}", f"csm{i}@example.com", "vitals-bench", role="csm").pk
        for i in range(1, CSMS + 1)
    ]
    _execute(
        "UPDATE accounts_account SET owner_id = (%s::bigint[])[1 + id %% %s]", [csms, len(csms)]
    )
    _log(f"{args.accounts:,} accounts owned by {CSMS} CSMs")
    generate_signals(accounts=args.accounts, count=args.signals, metrics=scenario.metrics)

    # One night of scores for every customer: a score, its band, a breakdown per component.
    model = scenario.model
    bands = sorted(scenario.bands.values(), key=lambda b: b.lower or 0.0)
    band_case = (
        "CASE "
        + " ".join(f"WHEN s >= {b.lower!r} THEN {b.pk}" for b in reversed(bands[1:]))
        + f" ELSE {bands[0].pk} END"
    )
    level_case = (
        "CASE "
        + " ".join(f"WHEN s >= {b.lower!r} THEN '{b.level}'" for b in reversed(bands[1:]))
        + f" ELSE '{bands[0].level}' END"
    )
    breakdown = (
        "jsonb_build_array("
        + ", ".join(
            "jsonb_build_array(round(s::numeric, 1), round(s::numeric, 1))" for _ in range(8)
        )
        + ")"
    )
    indexes = _secondary_indexes("scoring_healthscore")
    for name, _ in indexes:
        _execute(f'DROP INDEX "{name}"')
    _execute("SET session_replication_role = replica")
    _execute("SELECT setseed(0.42)")
    # One night of scores for every customer, kept aside and written for each night.
    _execute(
        "CREATE TEMPORARY TABLE bench_night AS"
        f" SELECT id AS account_id, s AS score, {band_case} AS band_id, {breakdown} AS breakdown"
        " FROM (SELECT id, round((random() * 100)::numeric, 1)::float8 AS s"
        "  FROM accounts_account WHERE churned_at IS NULL) a"
    )
    per_night = _count("SELECT count(*) FROM bench_night")
    # Nights oldest first, as a recompute writes them (ids grow with time), from a year
    # before the data's as-of date, for as long as the time allows.
    nights, night, history_started = 0, None, time.perf_counter()
    as_of = AS_OF - dt.timedelta(days=365)
    while nights == 0 or time.perf_counter() - history_started < args.history_seconds:
        as_of += dt.timedelta(days=1)
        night = _run(as_of, model.pk, per_night)
        _execute(
            "INSERT INTO scoring_healthscore (account_id, run_id, model_id, score, band_id,"
            " confirmed_band_id, pending_count, rebaseline, completeness, breakdown, computed_at)"
            " SELECT account_id, %s, %s, score, band_id, band_id, 0, false, 1.0, breakdown, %s"
            " FROM bench_night",
            [night, model.pk, as_of],
        )
        nights += 1
        _log(f"{nights} nights (to {as_of:%Y-%m-%d}), {nights * per_night:,} history rows")
    latest_night = as_of
    _execute(
        "INSERT INTO scoring_accounthealth (account_id, health_score_id, model_id, score,"
        " band_id, level, raw_band_id, pending_count, rebaseline, completeness, computed_at,"
        " trend_7d, trend_30d)"
        f" SELECT account_id, id, model_id, score, band_id,"
        f" {level_case.replace('s >=', 'score >=')}, band_id, 0, false, completeness,"
        " computed_at, random() * 20 - 10, random() * 40 - 20"
        " FROM scoring_healthscore WHERE run_id = %s",
        [night],
    )
    _execute(
        "INSERT INTO scoring_scoreevent (kind, account_id, health_score_id, run_id, from_band_id,"
        " to_band_id, score_before, score_after, rebaseline, created_at)"
        " SELECT 'band_changed', account_id, id, run_id, band_id, band_id, score + 10, score,"
        " false, computed_at FROM scoring_healthscore WHERE run_id = %s AND account_id %% 20 = 0",
        [night],
    )
    _execute("SET session_replication_role = DEFAULT")
    history_load = time.perf_counter() - history_started
    rebuild = time.perf_counter()
    _execute("SET maintenance_work_mem = '512MB'")
    for _, definition in indexes:
        _execute(definition)
    _execute("RESET maintenance_work_mem")
    rebuilt = time.perf_counter() - rebuild
    _log(f"history indexes rebuilt in {rebuilt:.1f} s")

    _execute(
        "INSERT INTO playbooks_task (account_id, title, description, priority, due_date,"
        " assignee_id, status, created_at, close_reason)"
        " SELECT id, 'Call ' || name, '', (ARRAY['low','normal','high','urgent'])[1 + id %% 4],"
        " %s::date + (id %% 60)::int, owner_id, 'open', %s, ''"
        " FROM accounts_account WHERE id %% (GREATEST(1, %s / %s)) = 0 LIMIT %s",
        [AS_OF.date(), AS_OF, args.accounts, args.tasks, args.tasks],
    )
    for table in (
        "accounts_account",
        "accounts_user",
        "scoring_signal",
        "scoring_healthscore",
        "scoring_accounthealth",
        "scoring_scoreevent",
        "scoring_scoringrun",
        "playbooks_task",
    ):
        _execute(f"VACUUM ANALYZE {table}")
    return {
        "nights": nights,
        "latest_night": f"{latest_night:%Y-%m-%d}",
        "history_load_s": history_load,
        "history_index_s": rebuilt,
        "build_s": time.perf_counter() - started,
    }


def sizes() -> dict[str, int]:
    tables = {
        "accounts": "accounts_account",
        "signals": "scoring_signal",
        "score history": "scoring_healthscore",
        "latest scores": "scoring_accounthealth",
        "score events": "scoring_scoreevent",
        "runs": "scoring_scoringrun",
        "tasks": "playbooks_task",
    }
    return {label: _count(f"SELECT count(*) FROM {table}") for label, table in tables.items()}


# --- The pages -----------------------------------------------------------------------------


def minimal_view(request):
    """50 accounts along the primary key, written as a table: the floor of a page."""
    from django.http import HttpResponse
    from django.utils.html import escape

    from accounts.models import Account

    rows = Account.objects.order_by("id").values_list("id", "name", "arr")[:50]
    body = "".join(f"<tr><td>{i}</td><td>{escape(n)}</td><td>{a}</td></tr>" for i, n, a in rows)
    return HttpResponse(f"<!doctype html><table>{body}</table>")


def _urlpatterns():
    from django.contrib.auth.decorators import login_required
    from django.urls import include, path

    return [path("bench/minimal/", login_required(minimal_view)), path("", include("config.urls"))]


def __getattr__(name: str):
    # This module is the URL configuration of the measured requests (ROOT_URLCONF),
    # read once Django is set up.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def pages(accounts: int) -> list[tuple[str, str]]:
    from scoring.models import HealthScore

    # The last week of history, as the date filter's "past 7 days" would on that night.
    latest = HealthScore.objects.order_by("-id").values_list("computed_at", flat=True).first()
    week = urlencode(
        {
            "computed_at__gte": (latest - dt.timedelta(days=7)).isoformat(),
            "computed_at__lt": (latest + dt.timedelta(days=1)).isoformat(),
        }
    )
    return [
        ("minimal view (50 accounts by primary key)", "/bench/minimal/"),
        ("accounts", "/admin/accounts/account/"),
        ("accounts, page 100", "/admin/accounts/account/?p=100"),
        ("accounts, owner typed in", "/admin/accounts/account/?owner=csm7"),
        (
            "accounts, segment and renewal this year",
            "/admin/accounts/account/?segment__exact=enterprise&renewal_date__gte=2027-01-01&renewal_date__lt=2028-01-01",
        ),
        ("account change form", f"/admin/accounts/account/{accounts // 2}/change/"),
        ("score history", "/admin/scoring/healthscore/"),
        ("score history, past 7 days", f"/admin/scoring/healthscore/?{week}"),
        ("latest scores", "/admin/scoring/accounthealth/"),
        ("signals", "/admin/scoring/signal/"),
        ("score events", "/admin/scoring/scoreevent/"),
        ("recompute runs", "/admin/scoring/scoringrun/"),
        ("tasks", "/admin/playbooks/task/"),
    ]


def measure(args) -> list[dict]:
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    results = []
    with override_settings(ROOT_URLCONF="bench.admin_pages", ALLOWED_HOSTS=["testserver"]):
        client = Client()
        client.force_login(User.objects.get(username="admin"))
        listed = pages(args.accounts)
        for _, url in listed * 2:  # warm-up
            assert client.get(url).status_code == 200, url
        timings: dict[str, list[float]] = {url: [] for _, url in listed}
        for _ in range(args.requests):
            for _, url in listed:
                started = time.perf_counter()
                response = client.get(url)
                timings[url].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, url
        for name, url in listed:
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            ms = sorted(timings[url])
            results.append(
                {
                    "page": name,
                    "url": url,
                    "p50": statistics.median(ms),
                    "p95": ms[max(0, round(0.95 * len(ms)) - 1)],
                    "queries": len(queries),
                    "slowest_sql": max((float(q["time"]) * 1000 for q in queries), default=0.0),
                }
            )
    return results


def removed_statements() -> list[tuple[str, float]]:
    """What the filters and date hierarchies replaced in the admin read before any choice
    is made, timed once each on the same data: the exact querysets Django ran."""
    from accounts.models import Account, User
    from scoring.models import HealthScore, Signal

    statements = [
        (
            "account list: plan filter's choices (DISTINCT over accounts)",
            Account.objects.values_list("plan", flat=True).distinct().order_by("plan"),
        ),
        ("account list: owner filter's choices (every user)", User.objects.order_by("username")),
        (
            "account list: renewal date hierarchy (DISTINCT years)",
            Account.objects.dates("renewal_date", "year"),
        ),
        (
            "score history: date hierarchy (DISTINCT years)",
            HealthScore.objects.dates("computed_at", "year"),
        ),
        ("signals: date hierarchy (DISTINCT years)", Signal.objects.dates("timestamp", "year")),
    ]
    timed = []
    for name, queryset in statements:
        started = time.perf_counter()
        list(queryset)
        timed.append((name, (time.perf_counter() - started) * 1000))
    return timed


def markdown(
    results: list[dict],
    counts: dict[str, int],
    built: dict | None,
    args,
    removed: list[tuple[str, float]],
) -> str:
    floor = results[0]["p95"]
    lines = [
        f"Measured on {dt.date.today():%Y-%m-%d} on this machine (2 cores shared with other "
        f"work; load average {loadavg()} at the end), PostgreSQL {pg_version()}, "
        f"{args.requests} requests of each page round-robin after a warm-up, in-process "
        "through Django's test client as the admin (the whole middleware stack, no HTTP).",
        "",
        "| table | rows |",
        "|---|---:|",
        *(f"| {label} | {rows:,} |" for label, rows in counts.items()),
        "",
    ]
    if built:
        lines += [
            f"Score history: {built['nights']} nights (the last on {built['latest_night']}) written in {built['history_load_s']:.0f} s "
            f"(`--history-seconds {args.history_seconds}`), its indexes built in "
            f"{built['history_index_s']:.0f} s; the whole build took {built['build_s'] / 60:.1f} min.",
            "",
        ]
    lines += [
        "| page | p50 ms | p95 ms | p95 ÷ minimal view's | queries | slowest statement ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['page']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p95'] / floor:.1f} |"
            f" {r['queries']} | {r['slowest_sql']:.1f} |"
        )
    lines += [
        "",
        "What the replaced filters and date hierarchies read on every view of their list,"
        " before any choice was made (each statement timed once, same data):",
        "",
        "| statement | ms |",
        "|---|---:|",
        *(f"| {name} | {ms:,.0f} |" for name, ms in removed),
    ]
    return "\n".join(lines) + "\n"


def pg_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0].split()[0]


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    if BEGIN not in doc:
        doc = doc.rstrip() + f"\n\n## Admin changelists at a million accounts\n\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--signals", type=int, default=10_000_000)
    parser.add_argument("--history-seconds", type=int, default=600)
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--reuse", action="store_true", help="measure the data of an earlier run")
    parser.add_argument("--docs", default=str(DOCS), help="'' to leave docs/benchmarks.md alone")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or "bench" not in url:
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database of the benchmark's own ('bench' in its name)."
        )
    if not args.reuse:
        recreate_database(url)
    django_setup()
    built = None if args.reuse else build(args)
    counts = sizes()
    _log(f"sizes: {counts}")
    results = measure(args)
    removed = removed_statements()
    text = markdown(results, counts, built, args, removed)
    print(text)
    if args.docs:
        write_docs(text)


if __name__ == "__main__":
    main()
