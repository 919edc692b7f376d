"""The benchmark's data: accounts, raw signals, the scoring model and its history.

Accounts and signals are generated inside PostgreSQL (``INSERT ... SELECT
generate_series``), deterministically (``setseed``), so a million accounts and ten
million signals take a couple of minutes, not an hour of Python. The metrics and the
model are created through the ORM and the services, as an admin would.

Signals are written one day at a time, sorted by account within the day, the way a
daily import or a stream batched per day lays them out on disk: each account's signals
are spread over 60 places in the table, not next to each other.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.db import connection, transaction

from scoring.models import Band, Metric, ScoringComponent, ScoringModel
from scoring.services import scoring_model_activate

# The moment the benchmark scores ("tonight"): signals cover the 60 days before it.
AS_OF = dt.datetime(2026, 6, 15, 2, 0, tzinfo=dt.UTC)
HISTORY_DAYS = 60
SEED = 0.42


@dataclass(frozen=True)
class MetricDef:
    key: str
    rollup: str
    window_days: int
    share: float  # share of all signals
    value_sql: str  # SQL expression for one signal's value (random() is seeded)
    component: dict


# Eight metrics, one of each roll-up, and the component each one feeds.
METRICS = [
    MetricDef(
        "usage_pct",
        "latest",
        30,
        0.10,
        "round((random() * 110 - 5)::numeric, 2)::float8",
        {"rule": "passthrough", "weight": 20},
    ),
    MetricDef(
        "logins",
        "sum",
        30,
        0.30,
        "floor(random() * 5)",
        {
            "rule": "linear",
            "params": {"worst": 0, "best": 15},
            "weight": 15,
            "missing": "default",
            "default": 0.0,
        },
    ),
    MetricDef(
        "support_tickets",
        "count",
        30,
        0.08,
        "1.0",
        {"rule": "steps", "params": {"steps": [[0, 100], [1, 80], [2, 50], [4, 0]]}, "weight": 10},
    ),
    MetricDef(
        "csat",
        "avg",
        30,
        0.07,
        "1 + floor(random() * 5)",
        {"rule": "linear", "params": {"worst": 1, "best": 5}, "weight": 15},
    ),
    MetricDef(
        "usage_change",
        "change_pct",
        14,
        0.20,
        "round((random() * 100)::numeric, 1)::float8",
        {"rule": "linear", "params": {"worst": -50, "best": 50}, "weight": 10},
    ),
    MetricDef(
        "last_contact",
        "days_since",
        30,
        0.10,
        "1.0",
        {"rule": "linear", "params": {"worst": 30, "best": 0}, "weight": 10},
    ),
    MetricDef(
        "seats_used",
        "max",
        30,
        0.08,
        "1 + floor(random() * 50)",
        {
            "rule": "steps",
            "params": {"steps": [[0, 0], [5, 40], [10, 70], [25, 100]]},
            "weight": 10,
        },
    ),
    MetricDef(
        "nps",
        "min",
        60,
        0.07,
        "floor(random() * 11)",
        {
            # 0–3 are not in the table: they count as missing, as the rule says.
            "rule": "table",
            "params": {"table": {"10": 100, "9": 100, "8": 70, "7": 70, "6": 30, "5": 30, "4": 10}},
            "weight": 10,
        },
    ),
]
BANDS = [("At risk", 0.0, "at_risk"), ("Watch", 50.0, "neutral"), ("Healthy", 75.0, "healthy")]


@dataclass(frozen=True)
class Scenario:
    model: ScoringModel
    metrics: dict[str, Metric]
    bands: dict[str, Band]


def _log(message: str) -> None:
    print(f"[data] {message}", flush=True)


def wipe() -> None:
    """Empty every table the benchmark fills (the database is the benchmark's own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE accounts_account, scoring_signal, scoring_healthscore,"
            " scoring_accounthealth, scoring_scoreevent, scoring_scoringrunchunk,"
            " scoring_scoringrun, scoring_band, scoring_scoringcomponent,"
            " scoring_scoringmodel, scoring_metric RESTART IDENTITY CASCADE"
        )


@transaction.atomic
def create_model() -> Scenario:
    """The eight metrics and the weighted model over them, through the ORM and services."""
    metrics = {}
    for d in METRICS:
        metrics[d.key] = Metric.objects.create(
            key=d.key,
            name=d.key.replace("_", " ").capitalize(),
            rollup=d.rollup,
            window_days=d.window_days,
        )
    # Flap control off: the reference (bench/reference.py) confirms every band change
    # at once, so the two runs' latest bands and events can be compared row by row.
    model = ScoringModel.objects.create(
        key="health",
        name="Health",
        kind="weighted",
        exit_margin=0.0,
        dwell_scorings=1,
        dwell_days=0,
    )
    for position, d in enumerate(METRICS):
        c = d.component
        ScoringComponent.objects.create(
            model=model,
            metric=metrics[d.key],
            position=position,
            weight=c["weight"],
            rule=c["rule"],
            params=c.get("params", {}),
            missing=c.get("missing", "skip"),
            default_value=c.get("default"),
        )
    bands = {}
    for name, lower, level in BANDS:
        bands[name] = Band.objects.create(model=model, name=name, lower=lower, level=level)
    scoring_model_activate(model=model)
    return Scenario(model=model, metrics=metrics, bands=bands)


def generate_accounts(*, count: int) -> None:
    """``count`` accounts with ids 1..count; one in a hundred left 100 days ago."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_account (id, external_id, name, domain, segment, plan,"
            " lifecycle_stage, arr, contract_start, renewal_date, churned_at, attributes,"
            " created_at, updated_at)"
            " SELECT i, 'acc-' || i, 'Account ' || i, 'a' || i || '.example.com',"
            " (ARRAY['smb','smb','smb','smb','smb','smb','mid_market','mid_market',"
            "'mid_market','enterprise'])[1 + i %% 10],"
            " (ARRAY['Starter','Growth','Scale'])[1 + i %% 3],"
            " (ARRAY['onboarding','adopting','mature','mature','renewing'])[1 + i %% 5],"
            " 1000 + (i %% 97) * 500, DATE '2025-01-01', DATE '2027-01-01',"
            " CASE WHEN i %% 100 = 0 THEN %s::date END, '{}'::jsonb, now(), now()"
            " FROM generate_series(1, %s) i",
            [(AS_OF - dt.timedelta(days=100)).date(), count],
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_account', 'id'), %s)", [count]
        )
    _log(f"{count:,} accounts in {time.perf_counter() - started:.1f} s")


def generate_signals(*, accounts: int, count: int, metrics: dict[str, Metric]) -> None:
    """``count`` signals over the last HISTORY_DAYS days, written day by day.

    The secondary indexes are dropped during the load and built afterwards, and the
    foreign-key triggers are off for this session (the rows are valid by construction):
    the standard way to bulk-load, and it keeps the load to a couple of minutes.
    """
    started = time.perf_counter()
    metric_ids = [metrics[d.key].id for d in METRICS]
    # Cumulative shares pick the metric from one random number.
    bounds, total = [], 0.0
    for d in METRICS:
        total += d.share
        bounds.append(total)
    pick = "CASE " + " ".join(
        f"WHEN r_metric < {bound!r} THEN {i}" for i, bound in enumerate(bounds[:-1])
    )
    pick += f" ELSE {len(METRICS) - 1} END"
    value = "CASE g.k " + " ".join(f"WHEN {i} THEN {d.value_sql}" for i, d in enumerate(METRICS))
    value += " END"
    ids = "ARRAY[" + ", ".join(str(i) for i in metric_ids) + "]::bigint[]"
    start = AS_OF - dt.timedelta(days=HISTORY_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'scoring_signal'"
            " AND indexname <> 'scoring_signal_pkey'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SELECT setseed(%s)", [SEED])
        per_day, extra = divmod(count, HISTORY_DAYS)
        for day in range(HISTORY_DAYS):
            n = per_day + (1 if day < extra else 0)
            cursor.execute(
                "INSERT INTO scoring_signal (account_id, metric_id, value, timestamp, source,"
                " created_at)"
                f" SELECT g.account_id, ({ids})[g.k + 1], {value},"
                " %s + g.r_time * interval '1 day', 'bench', %s"
                " FROM (SELECT account_id, r_time, " + pick + " AS k FROM ("
                "   SELECT 1 + floor(random() * %s)::bigint AS account_id, random() AS r_metric,"
                "   random() AS r_time FROM generate_series(1, %s)) r) g"
                " ORDER BY g.account_id, g.r_time",
                [start + dt.timedelta(days=day), AS_OF, accounts, n],
            )
        cursor.execute("SET session_replication_role = DEFAULT")
        loaded = time.perf_counter()
        _log(f"{count:,} signals loaded in {loaded - started:.1f} s")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
    _log(f"signal indexes rebuilt in {time.perf_counter() - loaded:.1f} s")


def vacuum_analyze(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
