"""The book's figures (``scoring.models.figures``): how they are kept, rebuilt and read.

Why database triggers. The figures depend on two tables that many paths write: accounts
(the ORM's saves, ``queryset.update()`` in bulk, imports, the API, admin, deletions,
``SET NULL`` of an owner who is deleted) and the latest health (the recompute's raw
``INSERT … ON CONFLICT DO UPDATE``, ``scoring/services/recompute.py``). A trigger sees
every one of them, in the transaction of the write, so a page never reads figures that
disagree with the rows; a service-level hook would have to be remembered by each path,
and raw SQL would slip past it.

- PostgreSQL: statement-level ``AFTER`` triggers with transition tables (one event per
  trigger, and no column list on ``UPDATE``: both are PostgreSQL's rules for transition
  tables). Each statement looks up once what its old and new rows add to the figures
  (the other table by one index probe per row), and sums those signed lines per key
  into both figure tables (``INSERT … ON CONFLICT DO UPDATE``, one statement). An ``UPDATE``
  first drops the rows whose keys did not change, so an edit that moves no account
  between figures (the nightly recompute for most accounts, a change of name or plan)
  costs an anti-join on the statement's own rows and nothing more. ``TRUNCATE`` of
  either table rebuilds the figures (what the test database's flush does).

  Before its first change to the figures a transaction takes one advisory lock
  (``FIGURES_LOCK``) held to its commit. Figure rows are shared by many writers (every
  chunk of a recompute touches the same few rows per owner): row locks taken in one
  statement's key order could still cross between two statements of two transactions
  (an upsert's insert and update triggers, accounts then scores) and deadlock, which
  would fail a recompute chunk. With the one lock, writers that change figures queue
  from that point to their commit instead; a recompute's chunks already queue there for
  the run's counters.
- SQLite: row-level triggers (``UPDATE OF`` the columns that matter, ``WHEN`` a key
  changed), the same upserts. Deleting the last account clears the figures, so a flush
  that empties the figure tables before the accounts leaves nothing behind.

``figures_rebuild`` computes them from scratch (``manage.py rebuild_figures``): after a
restore that skipped triggers (``pg_restore --disable-triggers``, a replica's
``session_replication_role``) or a hand edit with triggers disabled.

Reads (``book_figures``, ``score_figures``): the figures of the owners in a user's scope,
plus the accounts whose churn date is still ahead, read live through the partial index
on ``churned_at``: they count as customers until that day, and the figures file them as
churned. A handful of rows on any book, so the figures are exact on any day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Sum

from accounts.models import Account, User
from accounts.selectors import accounts_visible_to, owner_scope_q
from scoring.models import BookFigure, ScoreFigure

ACCOUNTS = "accounts_account"
HEALTH = "scoring_accounthealth"
BOOK = "scoring_bookfigure"
SCORES = "scoring_scorefigure"
BOOK_KEY = ("owner_id", "segment", "level", "churned")
# The transaction-level advisory lock that a transaction takes before it first changes
# the figures on PostgreSQL, held to its commit (any fixed number no other lock uses).
FIGURES_LOCK = 7_410_211
SCORE_KEY = ("owner_id", "model_id", "churned", "bucket")


# --- SQL ---------------------------------------------------------------------------------


def _cents(expr: str, vendor: str) -> str:
    """ARR in whole cents: exact sums on SQLite too, where a decimal is stored as a float."""
    if vendor == "postgresql":
        return f"round({expr} * 100)::bigint"
    return f"CAST(round({expr} * 100) AS INTEGER)"


def _floor(expr: str, vendor: str) -> str:
    """floor() as an integer; SQLite's without its optional math functions."""
    if vendor == "postgresql":
        return f"floor({expr})::bigint"
    return f"(CAST({expr} AS INTEGER) - ({expr} < CAST({expr} AS INTEGER)))"


def _probe(table: str, alias: str, column: str, value: str) -> str:
    """The row of ``table`` whose ``column`` is ``value``, as ``alias``, for a join in
    PostgreSQL's triggers: one index probe per row of the statement. A transition table
    has no statistics, and the planner would otherwise hash the whole other table for a
    few thousand rows (``OFFSET 0`` keeps the sub-select apart)."""
    return f"LATERAL (SELECT * FROM {table} x WHERE x.{column} = {value} OFFSET 0) {alias} ON true"


def _facts(table: str, sign: int, rows: str) -> str:
    """PostgreSQL: one line per row ``r`` of ``rows`` (of ``table``) with all it adds to
    the figures, ``sign`` (1 or −1) times: its owner, segment, level, churn, ARR, and its
    model and whole point (NULL when it has no score)."""
    vendor = "postgresql"
    if table == ACCOUNTS:
        return (
            f"SELECT {sign} AS sign, COALESCE(r.owner_id, 0) AS owner_id, r.segment AS segment,"
            " COALESCE(h.level, '') AS level, (r.churned_at IS NOT NULL) AS churned,"
            f" {_cents('r.arr', vendor)} AS cents, h.model_id AS model_id,"
            f" {_floor('h.score', vendor)} AS bucket"
            f" FROM {rows} LEFT JOIN {_probe(HEALTH, 'h', 'account_id', 'r.id')}"
        )
    return (
        f"SELECT {sign} AS sign, COALESCE(a.owner_id, 0) AS owner_id, a.segment AS segment,"
        " r.level AS level, (a.churned_at IS NOT NULL) AS churned,"
        f" {_cents('a.arr', vendor)} AS cents, r.model_id AS model_id,"
        f" {_floor('r.score', vendor)} AS bucket"
        f" FROM {rows} JOIN {_probe(ACCOUNTS, 'a', 'id', 'r.account_id')}"
    )


def _account_rows(sign: int, r: str, rows: str, vendor: str) -> dict[str, str]:
    """Signed deltas of account rows ``r`` (from ``rows``) for both figure tables."""
    churned = f"({r}.churned_at IS NOT NULL)"
    owner = f"COALESCE({r}.owner_id, 0)"
    health = f"{HEALTH} h ON h.account_id = {r}.id"
    return {
        BOOK: (
            f"SELECT {sign} AS sign, {owner} AS owner_id, {r}.segment AS segment,"
            f" COALESCE(h.level, '') AS level, {churned} AS churned,"
            f" {_cents(f'{r}.arr', vendor)} AS cents"
            f" FROM {rows} LEFT JOIN {health}"
        ),
        SCORES: (
            f"SELECT {sign} AS sign, {owner} AS owner_id, h.model_id AS model_id,"
            f" {churned} AS churned, {_floor('h.score', vendor)} AS bucket"
            f" FROM {rows} JOIN {health} WHERE h.score IS NOT NULL"
        ),
    }


def _health_rows(sign: int, r: str, rows: str, vendor: str) -> dict[str, str]:
    """Signed deltas of latest-health rows ``r``: the account leaves "not scored" for the
    row's level (or back), and its score joins (or leaves) its bucket."""
    churned = "(a.churned_at IS NOT NULL)"
    owner = "COALESCE(a.owner_id, 0)"
    account = f"{ACCOUNTS} a ON a.id = {r}.account_id"
    level = (
        f"SELECT {{sign}} AS sign, {owner} AS owner_id, a.segment AS segment,"
        f" {{level}} AS level, {churned} AS churned, {_cents('a.arr', vendor)} AS cents"
        f" FROM {rows} JOIN {account}"
    )
    return {
        BOOK: level.format(sign=sign, level=f"{r}.level")
        + " UNION ALL "
        + level.format(sign=-sign, level="''"),
        SCORES: (
            f"SELECT {sign} AS sign, {owner} AS owner_id, {r}.model_id AS model_id,"
            f" {churned} AS churned, {_floor(f'{r}.score', vendor)} AS bucket"
            f" FROM {rows} JOIN {account} WHERE {r}.score IS NOT NULL"
        ),
    }


def _upsert(table: str, sources: list[str]) -> str:
    """Add the summed deltas of ``sources`` to ``table``'s rows, in key order."""
    key = ", ".join(BOOK_KEY if table == BOOK else SCORE_KEY)
    book = table == BOOK
    sums = "SUM(sign), SUM(sign * cents)" if book else "SUM(sign)"
    nonzero = "SUM(sign) <> 0 OR SUM(sign * cents) <> 0" if book else "SUM(sign) <> 0"
    values = "accounts, arr_cents" if book else "accounts"
    update = f"accounts = {table}.accounts + excluded.accounts" + (
        f", arr_cents = {table}.arr_cents + excluded.arr_cents" if book else ""
    )
    union = " UNION ALL ".join(sources)
    # "WHERE true": SQLite's rule for an INSERT … SELECT followed by an upsert clause.
    return (
        f"INSERT INTO {table} ({key}, {values}) SELECT {key}, {sums}"
        f" FROM ({union}) d WHERE true GROUP BY {key} HAVING {nonzero} ORDER BY {key}"
        f" ON CONFLICT ({key}) DO UPDATE SET {update}"
    )


def rebuild_statements(vendor: str) -> list[str]:
    """The figures from scratch: every account counted once, as an insert would."""
    sources = _account_rows(1, "r", f"{ACCOUNTS} r", vendor)
    return [
        f"DELETE FROM {BOOK}",
        f"DELETE FROM {SCORES}",
        _upsert(BOOK, [sources[BOOK]]),
        _upsert(SCORES, [sources[SCORES]]),
    ]


# Columns whose change moves an account between figures, per table.
_ACCOUNT_SAME = (
    "{n}.id = {o}.id AND {n}.owner_id IS NOT DISTINCT FROM {o}.owner_id"
    " AND {n}.segment = {o}.segment AND ({n}.churned_at IS NULL) = ({o}.churned_at IS NULL)"
    " AND {n}.arr = {o}.arr"
)
_HEALTH_SAME = (
    "{n}.account_id = {o}.account_id AND {n}.level = {o}.level"
    " AND {n}.model_id = {o}.model_id"
    " AND {floor_n} IS NOT DISTINCT FROM {floor_o}"
)


def _postgresql_triggers() -> tuple[list[str], list[str]]:
    """(install, uninstall) statements on PostgreSQL."""
    vendor = "postgresql"
    install, uninstall = [], []
    tables = {ACCOUNTS: "account", HEALTH: "health"}
    for table, name in tables.items():
        same = (
            _ACCOUNT_SAME
            if table == ACCOUNTS
            else _HEALTH_SAME.replace("{floor_n}", _floor("{n}.score", vendor)).replace(
                "{floor_o}", _floor("{o}.score", vendor)
            )
        )
        changed_old = (
            "SELECT r.* FROM old_rows r WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE "
            + same.format(n="n", o="r")
            + ")"
        )
        changed_new = (
            "SELECT r.* FROM new_rows r WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE "
            + same.format(n="r", o="o")
            + ")"
        )
        events = {
            "insert": ("NEW TABLE AS new_rows", [(1, "new_rows r")]),
            "delete": ("OLD TABLE AS old_rows", [(-1, "old_rows r")]),
            "update": (
                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                [(-1, f"({changed_old}) r"), (1, f"({changed_new}) r")],
            ),
        }
        for event, (referencing, signed) in events.items():
            function = f"scoring_figures_{name}_{event}"
            # Each changed row is looked up once (``d``), then summed into both tables.
            facts = " UNION ALL ".join(_facts(table, sign, rows) for sign, rows in signed)
            book = ["SELECT sign, owner_id, segment, level, churned, cents FROM d"]
            if table == HEALTH:  # the account leaves "not scored" for its level, or back
                book.append("SELECT -sign, owner_id, segment, '', churned, cents FROM d")
            scores = [
                "SELECT sign, owner_id, model_id, churned, bucket FROM d WHERE bucket IS NOT NULL"
            ]
            body = (
                f"PERFORM pg_advisory_xact_lock({FIGURES_LOCK}); WITH d AS MATERIALIZED ({facts}),"
                f" book AS ({_upsert(BOOK, book)}) {_upsert(SCORES, scores)}"
            )
            if event == "update":
                # Nothing to change, nothing to lock: an edit of other columns never waits.
                body = f"IF EXISTS ({changed_old}) OR EXISTS ({changed_new}) THEN {body}; END IF"
            install.append(
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql"
                f" AS $$ BEGIN {body}; RETURN NULL; END $$"
            )
            install.append(
                f"CREATE TRIGGER {function} AFTER {event.upper()} ON {table}"
                f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
            uninstall.append(f"DROP TRIGGER IF EXISTS {function} ON {table}")
            uninstall.append(f"DROP FUNCTION IF EXISTS {function}()")
    rebuild = "; ".join(rebuild_statements(vendor))
    install.append(
        "CREATE OR REPLACE FUNCTION scoring_figures_rebuild() RETURNS trigger"
        f" LANGUAGE plpgsql AS $$ BEGIN {rebuild}; RETURN NULL; END $$"
    )
    for table, name in tables.items():
        trigger = f"scoring_figures_{name}_truncate"
        install.append(
            f"CREATE TRIGGER {trigger} AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION scoring_figures_rebuild()"
        )
        uninstall.append(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    uninstall.append("DROP FUNCTION IF EXISTS scoring_figures_rebuild()")
    return install, uninstall


def _sqlite_triggers() -> tuple[list[str], list[str]]:
    """(install, uninstall) statements on SQLite: row-level triggers."""
    vendor = "sqlite"
    one = "(SELECT 1) one"
    empty = f"NOT EXISTS (SELECT 1 FROM {ACCOUNTS})"
    account_changed = (
        "old.id IS NOT new.id OR old.owner_id IS NOT new.owner_id"
        " OR old.segment IS NOT new.segment"
        " OR (old.churned_at IS NULL) <> (new.churned_at IS NULL) OR old.arr IS NOT new.arr"
    )
    health_changed = (
        "old.account_id IS NOT new.account_id OR old.level IS NOT new.level"
        " OR old.model_id IS NOT new.model_id"
        f" OR {_floor('old.score', vendor)} IS NOT {_floor('new.score', vendor)}"
    )
    specs = [
        (ACCOUNTS, "account", _account_rows, "INSERT", "", [(1, "new")]),
        (ACCOUNTS, "account", _account_rows, "DELETE", "", [(-1, "old")]),
        (
            ACCOUNTS,
            "account",
            _account_rows,
            "UPDATE OF id, owner_id, segment, churned_at, arr",
            f" WHEN {account_changed}",
            [(-1, "old"), (1, "new")],
        ),
        (HEALTH, "health", _health_rows, "INSERT", "", [(1, "new")]),
        (HEALTH, "health", _health_rows, "DELETE", "", [(-1, "old")]),
        (
            HEALTH,
            "health",
            _health_rows,
            "UPDATE OF account_id, level, model_id, score",
            f" WHEN {health_changed}",
            [(-1, "old"), (1, "new")],
        ),
    ]
    install, uninstall = [], []
    for table, name, rows_of, event, when, signed in specs:
        trigger = f"scoring_figures_{name}_{event.split()[0].lower()}"
        parts = [rows_of(sign, r, one, vendor) for sign, r in signed]
        body = [_upsert(t, [p[t] for p in parts]) for t in (BOOK, SCORES)]
        if table == ACCOUNTS and event == "DELETE":
            body += [f"DELETE FROM {BOOK} WHERE {empty}", f"DELETE FROM {SCORES} WHERE {empty}"]
        statements = "".join(f"{s}; " for s in body)
        install.append(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table}"
            f" FOR EACH ROW{when} BEGIN {statements}END"
        )
        uninstall.append(f"DROP TRIGGER IF EXISTS {trigger}")
    return install, uninstall


def trigger_statements(vendor: str) -> tuple[list[str], list[str]]:
    """The statements that install and remove the triggers on ``vendor``."""
    if vendor == "postgresql":
        return _postgresql_triggers()
    if vendor == "sqlite":
        return _sqlite_triggers()
    raise ImproperlyConfigured(
        f"Vitals runs on PostgreSQL or SQLite; the book's figures have no triggers for {vendor}."
    )


# --- Rebuild -----------------------------------------------------------------------------


@transaction.atomic
def figures_rebuild() -> dict[str, int]:
    """Compute every figure from scratch (idempotent); returns the rows written.

    On PostgreSQL the accounts and latest health are locked against writes (readers go
    on) for the few seconds it takes, so no write falls between the two."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {ACCOUNTS}, {HEALTH} IN SHARE MODE")
        for statement in rebuild_statements(vendor):
            cursor.execute(statement)
    return {"book": BookFigure.objects.count(), "scores": ScoreFigure.objects.count()}


# --- Reads -------------------------------------------------------------------------------


@dataclass
class Tally:
    accounts: int = 0
    arr_cents: int = 0

    def add(self, accounts: int, arr_cents: int) -> None:
        self.accounts += accounts
        self.arr_cents += arr_cents

    @property
    def arr(self) -> Decimal:
        return Decimal(self.arr_cents) / 100


@dataclass
class BookFigures:
    """A scope's customers on a day and its churned accounts, per key: a tuple of the
    parts named in ``by`` (of owner_id, segment, level)."""

    by: tuple[str, ...]
    customers: dict[tuple, Tally] = field(default_factory=lambda: defaultdict(Tally))
    churned: dict[tuple, Tally] = field(default_factory=lambda: defaultdict(Tally))

    def total(self, which: str, **match) -> Tally:
        """The sum of ``which`` (customers or churned) over the keys whose parts equal
        ``match``, e.g. ``total("customers", level="healthy")``."""
        positions = {self.by.index(name): value for name, value in match.items()}
        total = Tally()
        for key, tally in getattr(self, which).items():
            if all(key[i] == value for i, value in positions.items()):
                total.add(tally.accounts, tally.arr_cents)
        return total


_FUTURE_FIELDS = (
    "owner_id",
    "segment",
    "arr",
    "health__level",
    "health__model_id",
    "health__score",
)


@dataclass
class FutureChurn:
    """The accounts in a scope whose churn date is after the day: customers that day,
    filed as churned in the figures. Read live (partial index on ``churned_at``)."""

    rows: list[dict]

    @classmethod
    def read(cls, *, user: User | None, today: dt.date, owners: list[int] | None = None):
        accounts = Account.objects.all() if user is None else accounts_visible_to(user=user)
        if owners is not None:
            accounts = accounts.filter(owner__in=owners)
        return cls(list(accounts.filter(churned_at__gt=today).values(*_FUTURE_FIELDS)))


def accounts_seen_count(*, user: User) -> int:
    """How many accounts ``user`` sees, customers and churned alike, from the figures:
    exact, whatever the size of the book, in one small query."""
    rows = BookFigure.objects.all()
    scope = owner_scope_q(user=user, field="owner_id", no_owner=0)
    if scope is not None:
        rows = rows.filter(scope)
    return rows.aggregate(n=Sum("accounts"))["n"] or 0


def book_figures(
    *,
    user: User | None,
    today: dt.date,
    by: tuple[str, ...] = ("segment", "level"),
    owners: list[int] | None = None,
    future: FutureChurn | None = None,
) -> BookFigures:
    """Customers on ``today`` and churned accounts with their ARR, in ``user``'s scope
    (everyone's for None), optionally only ``owners``', grouped by the parts of ``by``
    (of owner_id, segment, level). Two queries, or one with ``future`` given."""
    rows = BookFigure.objects.all()
    scope = None if user is None else owner_scope_q(user=user, field="owner_id", no_owner=0)
    if scope is not None:
        rows = rows.filter(scope)
    if owners is not None:
        rows = rows.filter(owner_id__in=owners)
    figures = BookFigures(by=by)
    for row in (
        rows.values(*by, "churned").annotate(n=Sum("accounts"), cents=Sum("arr_cents")).order_by()
    ):
        key = tuple(row[name] for name in by)
        target = figures.churned if row["churned"] else figures.customers
        target[key].add(row["n"], row["cents"])
    if future is None:
        future = FutureChurn.read(user=user, today=today, owners=owners)
    for account in future.rows:
        values = {
            "owner_id": account["owner_id"] or 0,
            "segment": account["segment"],
            "level": account["health__level"] or "",
        }
        key = tuple(values[name] for name in by)
        cents = int((Decimal(account["arr"]) * 100).to_integral_value())
        figures.churned[key].add(-1, -cents)
        figures.customers[key].add(1, cents)
    for which in (figures.customers, figures.churned):
        for key in [k for k, t in which.items() if not t.accounts and not t.arr_cents]:
            del which[key]
    return figures


def score_figures(
    *, user: User | None, today: dt.date, future: FutureChurn | None = None
) -> dict[int, dict[int, int]]:
    """Per model version, the customers on ``today`` in ``user``'s scope whose latest
    score is in each whole point: ``{model_id: {floor(score): accounts}}``."""
    rows = ScoreFigure.objects.filter(churned=False)
    scope = None if user is None else owner_scope_q(user=user, field="owner_id", no_owner=0)
    if scope is not None:
        rows = rows.filter(scope)
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows.values("model_id", "bucket").annotate(n=Sum("accounts")).order_by():
        counts[row["model_id"]][row["bucket"]] += row["n"]
    if future is None:
        future = FutureChurn.read(user=user, today=today)
    for account in future.rows:
        if account["health__score"] is not None:
            counts[account["health__model_id"]][math.floor(account["health__score"])] += 1
    return {
        model_id: {b: n for b, n in sorted(buckets.items()) if n}
        for model_id, buckets in counts.items()
        if any(buckets.values())
    }


__all__ = [
    "BookFigures",
    "FutureChurn",
    "Tally",
    "book_figures",
    "figures_rebuild",
    "rebuild_statements",
    "score_figures",
    "trigger_statements",
]
