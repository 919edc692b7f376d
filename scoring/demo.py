"""Demo scoring data for ``seed_demo``: metrics, a default weighted model, a points model
for enterprise accounts, D days of signals with believable patterns, and score history.

Patterns: *healthy* accounts use the product steadily; *declining* ones fade over the
last weeks (fewer logins, more tickets, late invoices); *recovering* ones dipped and
came back; *churned* ones fade out over the 45–90 days before ``churned_at`` and stop there.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from accounts.models import Account, RiskLevel
from scoring.models import (
    AccountHealth,
    HealthScore,
    Metric,
    ScoringModel,
    ScoringRun,
    Signal,
)
from scoring.services import (
    SENTIMENT_METRIC_KEY,
    BandInput,
    ComponentInput,
    metric_ensure,
    scoring_model_activate,
    scoring_model_draft_save,
    scoring_run_create,
    scoring_run_execute,
)

METRICS = [
    # key, name, unit, roll-up, window
    ("logins", "Logins", "logins", Metric.Rollup.SUM, 30),
    ("seats_used_pct", "Seats used", "%", Metric.Rollup.LATEST, 30),
    ("nps", "NPS response", "0–10", Metric.Rollup.LATEST, 30),
    ("open_tickets", "Open support tickets", "tickets", Metric.Rollup.LATEST, 30),
    ("late_invoices", "Late invoices", "invoices", Metric.Rollup.LATEST, 30),
    # Built in: fed by the touches logged (contacts/demo.py, the step before this one).
    ("days_since_touch", "Days since the last touch", "touches", Metric.Rollup.DAYS_SINCE, 30),
    ("logins_change", "Usage change", "%", Metric.Rollup.CHANGE_PCT, 30),
    (SENTIMENT_METRIC_KEY, "CSM sentiment", "1–5", Metric.Rollup.LATEST, 30),
]

STANDARD_MODEL: list[tuple[str, int, str, dict[str, Any], str, float | None]] = [
    # metric, weight, rule, params, missing, default
    ("logins", 25, "linear", {"worst": 0, "best": 450}, "skip", None),
    ("logins_change", 10, "linear", {"worst": -50, "best": 10}, "skip", None),
    ("seats_used_pct", 15, "linear", {"worst": 20, "best": 90}, "skip", None),
    ("nps", 15, "steps", {"steps": [[0, 0], [5, 40], [7, 70], [9, 100]]}, "skip", None),
    ("open_tickets", 10, "linear", {"worst": 8, "best": 0}, "default", 0.0),
    ("late_invoices", 10, "steps", {"steps": [[0, 100], [1, 50], [2, 0]]}, "default", 0.0),
    ("days_since_touch", 5, "linear", {"worst": 60, "best": 7}, "skip", None),
    (
        SENTIMENT_METRIC_KEY,
        10,
        "table",
        {"table": {"5": 100, "4": 75, "3": 50, "2": 25, "1": 0}},
        "skip",
        None,
    ),
]
STANDARD_BANDS = [
    ("At-risk", 0, "#dc2626", RiskLevel.AT_RISK),
    ("Neutral", 50, "#d97706", RiskLevel.NEUTRAL),
    ("Healthy", 75, "#16a34a", RiskLevel.HEALTHY),
]

ENTERPRISE_POINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("logins", "steps", {"steps": [[0, -10], [100, 5], [250, 15], [400, 25]]}),
    ("seats_used_pct", "steps", {"steps": [[0, -5], [50, 5], [80, 15]]}),
    (
        "nps",
        "table",
        {
            "table": {
                "10": 15,
                "9": 10,
                "8": 5,
                "7": 0,
                "6": -5,
                "5": -10,
                "4": -10,
                "3": -15,
                "2": -15,
                "1": -20,
                "0": -20,
            }
        },
    ),
    ("open_tickets", "per_unit", {"points": -3}),
    ("late_invoices", "per_unit", {"points": -10}),
    (SENTIMENT_METRIC_KEY, "table", {"table": {"5": 15, "4": 5, "3": 0, "2": -10, "1": -20}}),
]
ENTERPRISE_BANDS = [
    ("Critical", None, "#7f1d1d", RiskLevel.CRITICAL),
    ("Struggling", 0, "#dc2626", RiskLevel.AT_RISK),
    ("Stable", 26, "#d97706", RiskLevel.NEUTRAL),
    ("Thriving", 51, "#65a30d", RiskLevel.HEALTHY),
    ("Superstar", 76, "#16a34a", RiskLevel.HEALTHY),
]


@transaction.atomic
def seed_scoring_config() -> dict[str, ScoringModel]:
    """Metrics and the two demo models (active). Safe to run again."""
    metrics = {}
    for key, name, unit, rollup, window in METRICS:
        metrics[key] = metric_ensure(
            key=key, fields={"name": name, "unit": unit, "rollup": rollup, "window_days": window}
        )
    models = {}
    standard = ScoringModel.objects.filter(key="standard").order_by("-version").first()
    if standard is None:
        standard = scoring_model_draft_save(
            key="standard",
            fields={
                "name": "Standard health",
                "kind": ScoringModel.Kind.WEIGHTED,
                "description": "Usage, adoption, sentiment, support and billing on a 0–100 scale.",
            },
            components=[
                ComponentInput(
                    metric=metrics[key],
                    rule=rule,
                    params=params,
                    weight=Decimal(weight),
                    missing=missing,
                    default_value=default,
                )
                for key, weight, rule, params, missing, default in STANDARD_MODEL
            ],
            bands=[BandInput(*band) for band in STANDARD_BANDS],
        )
        scoring_model_activate(model=standard)
    models["standard"] = standard
    enterprise = ScoringModel.objects.filter(key="enterprise-points").order_by("-version").first()
    if enterprise is None:
        enterprise = scoring_model_draft_save(
            key="enterprise-points",
            fields={
                "name": "Enterprise impact points",
                "kind": ScoringModel.Kind.POINTS,
                "segment": Account.Segment.ENTERPRISE,
                "description": "Impact points for enterprise accounts: each signal adds or "
                "takes points.",
            },
            components=[
                ComponentInput(metric=metrics[key], rule=rule, params=params)
                for key, rule, params in ENTERPRISE_POINTS
            ],
            bands=[BandInput(*band) for band in ENTERPRISE_BANDS],
        )
        scoring_model_activate(model=enterprise)
    models["enterprise"] = enterprise
    return models


@dataclass(frozen=True)
class Pattern:
    name: str
    # Health from 0 (failing) to 1 (thriving) as a function of "days ago".
    health: Callable[[float], float]


def _pattern_for(rng: random.Random, churned_days_ago: int | None) -> Pattern:
    if churned_days_ago is not None:
        end = churned_days_ago
        # Customers who leave fade for weeks before they go (45–90 days, from an ordinary
        # level): what a backtest of the demo book should find ahead of the churn date.
        lead = rng.randint(45, 90)
        level = 0.6 + 0.2 * rng.random()
        return Pattern(
            "churned", lambda ago: 0.12 + (level - 0.12) * max(0.0, min(1.0, (ago - end) / lead))
        )
    roll = rng.random()
    base = 0.65 + 0.3 * rng.random()
    if roll < 0.55:
        return Pattern("healthy", lambda ago: base + 0.04 * math.sin(ago / 5))
    if roll < 0.75:
        start = rng.randint(20, 85)
        return Pattern(
            "declining", lambda ago: base if ago > start else base - (start - ago) / start * 0.6
        )
    if roll < 0.9:
        low = rng.randint(25, 85)
        return Pattern(
            "recovering",
            lambda ago: 0.3 + min(abs(ago - low) / 30, 1) * (base - 0.3),
        )
    return Pattern("neutral", lambda ago: 0.45 + 0.1 * math.sin(ago / 9))


def helped(pattern: Pattern, *, since_ago: int, rng: random.Random) -> Pattern:
    """The pattern of an account its CSM worked on ``since_ago`` days ago: back to a
    sound level over the week after (the demo's stand-in for a playbook that works)."""
    start = pattern.health(since_ago)
    target = 0.72 + 0.2 * rng.random()
    return Pattern(
        "helped",
        lambda ago: (
            pattern.health(ago)
            if ago >= since_ago
            else start + (target - start) * min(1.0, (since_ago - ago) / 7)
        ),
    )


def left_alone(pattern: Pattern, *, since_ago: int) -> Pattern:
    """The pattern of an account at risk that nobody helped ``since_ago`` days ago: it
    drifts down from where it was."""
    start = pattern.health(since_ago)
    return Pattern(
        "left alone",
        lambda ago: (
            pattern.health(ago)
            if ago >= since_ago
            else max(0.05, start - 0.15 * (since_ago - ago) / 30)
        ),
    )


@dataclass(frozen=True)
class DemoAccount:
    id: int
    external_id: str
    churned_at: dt.date | None


def _rng(seed: int, account: DemoAccount, part: str) -> random.Random:
    # Per account and part, by external id: the same data whatever the database ids and
    # however the history is split into phases.
    return random.Random(f"{seed}:{account.external_id}:{part}")


def demo_pattern(*, account: DemoAccount, seed: int, now: dt.datetime) -> Pattern:
    churned_ago = (now.date() - account.churned_at).days if account.churned_at else None
    return _pattern_for(_rng(seed, account, "pattern"), churned_ago)


def signal_rows(
    *,
    accounts: Iterable[tuple[DemoAccount, Pattern]],
    metric_ids: dict[str, int],
    days: range,
    now: dt.datetime,
    seed: int,
) -> Iterable[tuple]:
    """Rows (account_id, metric_id, value, timestamp, source) of the demo signals of the
    days ``days`` ago (e.g. ``range(90, 45, -1)``), each account on its pattern."""
    for account, pattern in accounts:
        churned_ago = (now.date() - account.churned_at).days if account.churned_at else None
        habits = _rng(seed, account, "habits")
        habits.randint(10, 35)  # was the touch rhythm (now contacts/demo.py's); keeps nps_day
        nps_day = habits.randint(5, 85)
        for ago in days:
            if churned_ago is not None and ago < churned_ago:
                break
            rng = _rng(seed, account, f"day {ago}")
            health = max(0.0, min(1.0, pattern.health(ago)))
            at = now - dt.timedelta(days=ago, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
            logins = max(0, round(rng.gauss(18 * health, 2.5)))
            yield (account.id, metric_ids["logins"], float(logins), at, "product")
            yield (account.id, metric_ids["logins_change"], float(logins), at, "product")
            if ago % 7 == 0:
                used = max(5.0, min(100.0, rng.gauss(100 * health, 8)))
                yield (account.id, metric_ids["seats_used_pct"], round(used, 1), at, "product")
                tickets = max(0, round(rng.gauss(6 * (1 - health), 1.2)))
                yield (account.id, metric_ids["open_tickets"], float(tickets), at, "support")
            if ago % 30 == 0:
                late = 0 if health > 0.5 or rng.random() < 0.5 else rng.randint(1, 3)
                yield (account.id, metric_ids["late_invoices"], float(late), at, "billing")
            if ago == nps_day:
                nps = max(0, min(10, round(rng.gauss(10 * health, 1.5))))
                yield (account.id, metric_ids["nps"], float(nps), at, "survey")
            if ago in (60, 15) and rng.random() < 0.4:
                mood = max(1, min(5, round(1 + 4 * health + rng.gauss(0, 0.5))))
                yield (account.id, metric_ids[SENTIMENT_METRIC_KEY], float(mood), at, "csm")


def store_signals(rows: Iterable[tuple], *, batch: int = 20000) -> int:
    """Write signal rows fast: COPY on PostgreSQL, executemany elsewhere."""
    created = timezone.now()
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(
                "COPY scoring_signal (account_id, metric_id, value, timestamp, source, created_at)"
                " FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row((*row, created))
                    count += 1
            return count
        sql = (
            "INSERT INTO scoring_signal (account_id, metric_id, value, timestamp, source, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
        )
        created_text = created.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
        buffer = []
        for account_id, metric_id, value, at, source in rows:
            at_text = at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
            buffer.append((account_id, metric_id, value, at_text, source, created_text))
            if len(buffer) >= batch:
                cursor.executemany(sql, buffer)
                count += len(buffer)
                buffer.clear()
        if buffer:
            cursor.executemany(sql, buffer)
            count += len(buffer)
    return count


# The longest roll-up window of the demo's models: scores before that much history would
# read every account as fading.
WARM_UP_DAYS = 30


def history_points(days: int) -> list[int]:
    """Days ago the demo history is scored at: weekly once the roll-up windows are full,
    daily for the last week, then now (0)."""
    start = days - WARM_UP_DAYS
    weekly = range(start - start % 7, 7, -7) if start > 7 else range(0)
    return [*sorted({*weekly, *range(min(7, max(start, 1)), 0, -1)}, reverse=True), 0]


# What other apps' demo steps may do after each scoring of the history: a callable in
# ``book.extra[ON_SCORED]`` is called with the moment scored and returns the accounts it
# acted on — account id → "acted" or "held_out" — whose patterns then change.
ON_SCORED = "on_scored"


def seed_history(
    *,
    book: DemoBook,
    patterns: dict[DemoAccount, Pattern],
    now: dt.datetime,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, int]:
    """The demo's history, scoring point by scoring point: the signals up to each point,
    a run as of it, then the hooks (``ON_SCORED``). An account a hook acted on mostly
    recovers from then on (seven in ten); one it held out mostly drifts down (one in four
    recovers): the demo's stand-in for playbooks that work."""
    metric_ids = dict(Metric.objects.values_list("key", "id"))
    hooks = book.extra.get(ON_SCORED, [])
    by_id = {account.id: account for account in patterns}
    written = book.days + 1
    signals = runs = 0
    for ago in history_points(book.days):
        days = range(written - 1, max(ago, 1) - 1, -1)
        with transaction.atomic():
            signals += store_signals(
                signal_rows(
                    accounts=patterns.items(),
                    metric_ids=metric_ids,
                    days=days,
                    now=now,
                    seed=book.seed,
                )
            )
        written = min(written, max(ago, 1))
        as_of = now - dt.timedelta(days=ago)
        progress(f"scoring as of {as_of:%Y-%m-%d}")
        scoring_run_execute(run=scoring_run_create(as_of=as_of, trigger="seed", chunk_size=10000))
        runs += 1
        for hook in hooks:
            for account_id, arm in hook(as_of).items():
                account = by_id.get(account_id)
                if account is None or ago == 0:
                    continue
                rng = _rng(book.seed, account, f"acted on {ago}")
                if rng.random() < (0.7 if arm == "acted" else 0.25):
                    patterns[account] = helped(patterns[account], since_ago=ago, rng=rng)
                else:
                    patterns[account] = left_alone(patterns[account], since_ago=ago)
    return {"signals": signals, "runs": runs}


def _demo_accounts() -> list[DemoAccount]:
    return [
        DemoAccount(id, external_id, churned_at)
        for id, external_id, churned_at in Account.objects.filter(
            external_id__startswith=DEMO_EXTERNAL_ID_PREFIX
        )
        .order_by("id")
        .values_list("id", "external_id", "churned_at")
    ]


@demo_step(name="signals and scores", order=10)
def demo_scoring_step(book: DemoBook) -> str:
    """``seed_demo``'s scoring step: the demo accounts' signals and score history, with
    what the other apps' demo steps do after each scoring (``seed_history``).
    Idempotent: the demo accounts' signals and scores are written afresh each time."""
    accounts = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    AccountHealth.objects.filter(account__in=accounts).delete()
    HealthScore.objects.filter(account__in=accounts).delete()
    ScoringRun.objects.filter(trigger="seed").delete()
    # Not the signals Vitals records itself (a touch's), which their own step wrote afresh.
    Signal.objects.filter(account__in=accounts).exclude(source="vitals").delete()
    seed_scoring_config()
    now = book.now
    patterns = {a: demo_pattern(account=a, seed=book.seed, now=now) for a in _demo_accounts()}
    result = seed_history(book=book, patterns=patterns, now=now)
    return (
        f"{result['signals']:,} signals over {book.days} days, "
        f"scored as of {result['runs']} dates (two scoring models active)"
    )
