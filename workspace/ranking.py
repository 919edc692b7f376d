"""Work on next: a person's accounts ranked by what they need, in one query.

An account's priority is the sum of points (weights: ``PriorityWeights``, set in admin):

- its risk level: Critical, At risk, Neutral or not scored (Healthy counts nothing);
- its size: ``arr`` points per tenfold of its ARR in thousands, log10(1 + ARR / 1,000);
- its renewal: ``renewal`` points on the day, falling in a straight line to none at the
  end of the horizon; a renewal date already passed counts them all;
- overdue work: ``overdue`` points per overdue task on it (open past its due date, or
  snoozed past its wake-up day), up to three;
- a fall: ``drop`` points per 10 points its score fell in 30 days;
- silence: ``untouched`` points per 30 days since the last touch (a call, email, meeting
  or QBR logged, a note written, a task done, a sentiment recorded), up to 90 days; never
  touched counts as 90.

The points are computed by the database over the whole book at once and the first rows
read in order; each row then says in words why it is there, from the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, RiskLevel, User
from playbooks.models import Task, priority_rank, queue_day
from workspace.models import PriorityWeights

NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_OVERDUE = 3
MAX_UNTOUCHED_DAYS = 90


@dataclass
class NextUp:
    """One row of "work on next": the account, its priority and why."""

    account: Account
    priority: float
    reasons: list[str]
    # The person's open work on the account, most due first (``with_tasks``).
    tasks: list[Task] = field(default_factory=list)
    more_tasks: int = 0

    @property
    def why(self) -> str:
        return " · ".join(self.reasons)


LEVEL_LABELS = dict(RiskLevel.choices)  # "" (no band or no score): "Not scored"


# The points of each account, in SQL over the person's own customers: their latest
# health joined once, and each account's overdue tasks and last touches grouped once
# over those accounts (not a subquery per account); a touch logged is the account's own
# ``last_touch_at``, kept by its write path. {days_to_renewal} and
# {days_untouched} are the database's date arithmetic; the parameters are in PARAMS.
RANKING_SQL = """
WITH mine AS (
    SELECT a.id, a.arr, a.renewal_date, a.last_touch_at, COALESCE(h.level, '') AS level,
           COALESCE(h.trend_30d, 0.0) AS trend
    FROM accounts_account a
    LEFT JOIN scoring_accounthealth h ON h.account_id = a.id
    WHERE a.owner_id = %(owner)s AND (a.churned_at IS NULL OR a.churned_at > %(today)s)
), overdue AS (
    SELECT t.account_id, COUNT(*) AS n
    FROM playbooks_task t JOIN mine ON mine.id = t.account_id
    WHERE t.status IN ('open', 'snoozed')
      AND CASE WHEN t.status = 'snoozed' THEN t.snoozed_until ELSE t.due_date END < %(today)s
    GROUP BY t.account_id
), touches AS (
    SELECT n.account_id, n.created_at AS at
    FROM playbooks_note n JOIN mine ON mine.id = n.account_id WHERE n.author_id IS NOT NULL
    UNION ALL
    SELECT t.account_id, t.completed_at
    FROM playbooks_task t JOIN mine ON mine.id = t.account_id WHERE t.completed_at IS NOT NULL
    UNION ALL
    SELECT s.account_id, s.created_at
    FROM scoring_csmsentiment s JOIN mine ON mine.id = s.account_id
    UNION ALL
    SELECT mine.id, mine.last_touch_at FROM mine WHERE mine.last_touch_at IS NOT NULL
), touched AS (
    SELECT account_id, MAX(at) AS at FROM touches GROUP BY account_id
), facts AS (
    SELECT mine.*, COALESCE(overdue.n, 0) AS overdue_tasks, touched.at AS last_touch,
           {days_to_renewal} AS days_to_renewal,
           CASE WHEN touched.at IS NULL THEN %(max_untouched)s
                ELSE {days_untouched} END AS days_untouched
    FROM mine
    LEFT JOIN overdue ON overdue.account_id = mine.id
    LEFT JOIN touched ON touched.account_id = mine.id
), points AS (
    SELECT facts.*,
        CASE level WHEN 'critical' THEN %(critical)s WHEN 'at_risk' THEN %(at_risk)s
             WHEN 'neutral' THEN %(neutral)s WHEN 'healthy' THEN 0.0
             ELSE %(unscored)s END AS level_points,
        %(arr)s * LN(1.0 + CAST(arr AS DOUBLE PRECISION) / 1000.0) / LN(10.0) AS arr_points,
        CASE WHEN renewal_date IS NULL THEN 0.0
             WHEN days_to_renewal < 0 THEN %(renewal)s
             WHEN days_to_renewal > %(horizon)s THEN 0.0
             ELSE %(renewal)s * (1.0 - days_to_renewal / %(horizon)s) END AS renewal_points,
        %(overdue)s * CASE WHEN overdue_tasks > %(max_overdue)s THEN %(max_overdue)s
                          ELSE overdue_tasks END AS overdue_points,
        CASE WHEN trend < 0 THEN %(drop)s * -trend / 10.0 ELSE 0.0 END AS drop_points,
        %(untouched)s * CASE WHEN days_untouched > %(max_untouched)s THEN %(max_untouched)s
                             ELSE days_untouched END / 30.0 AS untouched_points
    FROM facts
)
SELECT id, overdue_tasks, last_touch, days_to_renewal, days_untouched,
       level_points, arr_points, renewal_points, overdue_points, drop_points,
       untouched_points,
       level_points + arr_points + renewal_points + overdue_points + drop_points
       + untouched_points AS priority
FROM points
ORDER BY priority DESC, arr DESC, id
LIMIT %(limit)s
"""

DATE_ARITHMETIC = {
    # Whole days to the renewal date; days, with their fraction, since the last touch.
    "postgresql": {
        "days_to_renewal": "(mine.renewal_date - %(today)s::date)::float",
        "days_untouched": "EXTRACT(EPOCH FROM (%(now)s::timestamptz - touched.at)) / 86400.0",
    },
    "sqlite": {
        "days_to_renewal": "(julianday(mine.renewal_date) - julianday(%(today)s))",
        "days_untouched": "(julianday(%(now)s) - julianday(touched.at))",
    },
}


def ranked_rows(
    *, user: User, today: dt.date, now: dt.datetime, weights: PriorityWeights, limit: int
) -> list[dict]:
    """The first ``limit`` of ``user``'s own customers by priority, in one statement: a
    dictionary per account of its id, facts (overdue tasks, last touch, days to the
    renewal and since the touch), points per part and ``priority``."""
    w = weights
    vendor = connection.vendor
    sql = RANKING_SQL.format(
        **DATE_ARITHMETIC["postgresql" if vendor == "postgresql" else "sqlite"]
    )
    params = {
        "owner": user.pk,
        "today": today if vendor == "postgresql" else today.isoformat(),
        "now": now
        if vendor == "postgresql"
        else now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "limit": limit,
        "max_overdue": MAX_OVERDUE,
        "max_untouched": float(MAX_UNTOUCHED_DAYS),
        "horizon": float(w.renewal_horizon_days),
        **{name: float(getattr(w, name)) for name in PriorityWeights.WEIGHTS},
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def work_on_next(
    *,
    user: User,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    limit: int = 10,
    weights: PriorityWeights | None = None,
    with_tasks: int = 0,
    task_related: tuple[str, ...] = (),
) -> list[NextUp]:
    """The first ``limit`` of ``user``'s accounts by priority, each with its reasons: one
    query, and one for their accounts (and one for the weights unless given). With
    ``with_tasks``, each carries up to that many of the person's open tasks on it (their
    queue's order: the day, then priority), in one query more, with ``task_related``."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    weights = weights or PriorityWeights.current()
    rows = ranked_rows(user=user, today=today, now=now, weights=weights, limit=limit)
    accounts = Account.objects.select_related("health__band", "owner").in_bulk(
        [row["id"] for row in rows]
    )
    ranked = []
    for row in rows:
        account = accounts[row["id"]]
        ranked.append(NextUp(account, float(row["priority"]), reasons(account, row)))
    if with_tasks and ranked:
        _with_tasks(ranked, user=user, today=today, per_account=with_tasks, related=task_related)
    return ranked


def _with_tasks(
    ranked: list[NextUp], *, user: User, today: dt.date, per_account: int, related
) -> None:
    """Give each row the person's open tasks on its account, in the queue's order: those
    assigned to them and the unassigned ones (their own accounts)."""
    by_account = {item.account.pk: item for item in ranked}
    tasks = (
        Task.objects.filter(account_id__in=list(by_account), status__in=Task.ACTIVE)
        .filter(Q(assignee=user) | Q(assignee__isnull=True))
        .annotate(when=queue_day(), rank=priority_rank())
        .select_related(*related)
        .order_by("account_id", "when", "rank", "id")
    )
    for task in tasks:
        item = by_account[task.account_id]
        task.account = item.account
        if len(item.tasks) < per_account:
            item.tasks.append(task)
        else:
            item.more_tasks += 1


def money(value: Decimal | float) -> str:
    """ARR in short: $768k, $1.2M, $950."""
    amount = float(value)
    if amount >= 999_500:
        return f"${amount / 1_000_000:.1f}M".replace(".0M", "M")
    if amount >= 1_000:
        return f"${amount / 1_000:.0f}k"
    return f"${amount:.0f}"


def reasons(account: Account, facts: dict) -> list[str]:
    """Why ``account`` is where it is, in words, from its row of ``ranked_rows``: its
    level and size, then each part that added points."""
    health = getattr(account, "health", None)
    level = health.level if health is not None else ""
    words = [LEVEL_LABELS.get(level, "Not scored")]
    words.append(money(account.arr))
    days = facts["days_to_renewal"]
    if facts["renewal_points"] > 0 and days is not None:
        whole = int(days)
        if whole < 0:
            words.append(f"renewal passed {-whole} day{'s' if whole != -1 else ''} ago")
        elif whole == 0:
            words.append("renews today")
        else:
            words.append(f"renews in {whole} day{'s' if whole != 1 else ''}")
    if facts["overdue_tasks"]:
        n = facts["overdue_tasks"]
        words.append(f"{n} overdue task{'s' if n != 1 else ''}")
    if facts["untouched_points"] > 0:
        if facts["last_touch"] is None:
            words.append("no touch on record")
        elif facts["days_untouched"] >= 1:
            d = int(facts["days_untouched"])
            if d >= MAX_UNTOUCHED_DAYS:
                words.append(f"no touch for {MAX_UNTOUCHED_DAYS}+ days")
            else:
                words.append(f"no touch for {d} day{'s' if d != 1 else ''}")
    trend = health.trend_30d if health is not None else None
    if trend is not None and trend <= -0.5:
        words.append(f"score \u2212{abs(trend):.0f} in 30 days")
    return words
