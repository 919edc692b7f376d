"""The book's figures (``scoring.figures``) held to a from-scratch aggregate of the rows.

The property test performs random operations through the real write paths — the
account services, ``queryset.update()`` in bulk, deletions, a user deleted (owner set
to NULL), the recompute (whose latest-health upsert is raw SQL), latest-health rows
written by the ORM and by raw SQL — and after every step compares every figure with an
aggregate computed in Python from the rows, then what the pages read from them (per
scope, on days around a churn date) with the same quantities computed from the rows,
the score distributions with exact rational arithmetic.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import Account, User
from accounts.selectors import accounts_visible_to, customers_q
from accounts.services import accounts_bulk_upsert, accounts_delete
from scoring.figures import book_figures, figures_rebuild, score_figures
from scoring.models import AccountHealth, BookFigure, ScoreFigure, ScoringModel
from scoring.selectors import _nice_step, score_distributions
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import TeamFactory, UserFactory
from tests.playbooks.builders import usage_model
from tests.scoring.builders import add_signal, make_model

START = dt.datetime(2026, 5, 4, 6, 0, tzinfo=dt.UTC)
SEGMENTS = Account.Segment.values
LEVELS = ["", "healthy", "neutral", "at_risk", "critical"]


# --- From scratch ------------------------------------------------------------------------


def figures_in_table() -> tuple[dict, dict]:
    book = {
        (f.owner_id, f.segment, f.level, f.churned): (f.accounts, f.arr_cents)
        for f in BookFigure.objects.all()
        if f.accounts or f.arr_cents
    }
    scores = {
        (f.owner_id, f.model_id, f.churned, f.bucket): f.accounts
        for f in ScoreFigure.objects.all()
        if f.accounts
    }
    return book, scores


def _rows(accounts=None) -> list[dict]:
    accounts = Account.objects.all() if accounts is None else accounts
    health = {h["account_id"]: h for h in AccountHealth.objects.values()}
    rows = []
    for a in accounts.values("id", "owner_id", "segment", "arr", "churned_at"):
        h = health.get(a["id"], {})
        rows.append({**a, "level": h.get("level") or "", "model_id": h.get("model_id"),
                     "score": h.get("score")})  # fmt: skip
    return rows


def _cents(arr) -> int:
    return int(Decimal(arr) * 100)


def figures_from_scratch() -> tuple[dict, dict]:
    book: dict = {}
    scores: Counter = Counter()
    for r in _rows():
        key = (r["owner_id"] or 0, r["segment"], r["level"], r["churned_at"] is not None)
        n, cents = book.get(key, (0, 0))
        book[key] = (n + 1, cents + _cents(r["arr"]))
        if r["score"] is not None:
            owner, churned = r["owner_id"] or 0, r["churned_at"] is not None
            scores[(owner, r["model_id"], churned, math.floor(r["score"]))] += 1
    return {k: v for k, v in book.items() if v != (0, 0)}, dict(scores)


def reads_from_scratch(user: User | None, day: dt.date) -> tuple[dict, dict, dict]:
    """(customers per (segment, level), churned, scores per model) of ``user``'s scope
    on ``day``, straight from the rows."""
    scope = Account.objects.all() if user is None else accounts_visible_to(user=user)
    customers_ids = set(scope.filter(customers_q(on=day)).values_list("pk", flat=True))
    customers: dict = {}
    churned = [0, 0]
    scores: dict[int, list[float]] = {}
    for r in _rows(scope):
        if r["id"] in customers_ids:
            n, cents = customers.get((r["segment"], r["level"]), (0, 0))
            customers[(r["segment"], r["level"])] = (n + 1, cents + _cents(r["arr"]))
            if r["score"] is not None:
                scores.setdefault(r["model_id"], []).append(r["score"])
        else:
            churned[0] += 1
            churned[1] += _cents(r["arr"])
    return customers, {(): tuple(churned)} if churned[0] else {}, scores


def distribution_from_scratch(model: ScoringModel, scores: list[float]) -> list[int]:
    """Bucket counts with exact rationals: bucket i holds low + i·w <= s < low + (i+1)·w."""
    exact = [Fraction(s) for s in scores]
    if model.kind == ScoringModel.Kind.WEIGHTED:
        low, step, n = Fraction(0), Fraction(10), 10
    else:
        step = Fraction(_nice_step(max(math.floor(max(exact)) - math.floor(min(exact)), 1)))
        low = math.floor(min(exact) / step) * step
        n = math.floor((max(exact) - low) / step) + 1
    counts = [0] * n
    for s in exact:
        i = math.floor((s - low) / step)
        if model.kind == ScoringModel.Kind.WEIGHTED and i == n:
            i = n - 1
        if 0 <= i < n:
            counts[i] += 1
    return counts


def check(people: list[User | None], today: dt.date) -> None:
    assert figures_in_table() == figures_from_scratch()
    for user in people:
        for day in (today - dt.timedelta(days=3), today, today + dt.timedelta(days=3)):
            customers, churned, scores = reads_from_scratch(user, day)
            figures = book_figures(user=user, today=day)
            assert {k: (t.accounts, t.arr_cents) for k, t in figures.customers.items()} == (
                customers
            ), (user, day)
            gone = figures.total("churned")
            assert ({(): (gone.accounts, gone.arr_cents)} if gone.accounts else {}) == churned
            buckets = score_figures(user=user, today=day)
            assert {m: sum(c.values()) for m, c in buckets.items()} == {
                m: len(s) for m, s in scores.items()
            }
            for distribution in score_distributions(buckets=buckets):
                expected = distribution_from_scratch(
                    distribution.model, scores[distribution.model.pk]
                )
                assert [b.count for b in distribution.buckets] == expected, distribution.model


# --- Operations through the real write paths ----------------------------------------------

segment = st.sampled_from(SEGMENTS)
arr = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)
churn = st.sampled_from([None, -30, -1, 0, 1, 30])  # days from today; None: a customer
pick = st.integers(0, 1_000)
owner = st.sampled_from([None, 0, 1, 2])  # index into the people who may own accounts
score_value = st.one_of(
    st.floats(-60, 160, allow_nan=False), st.sampled_from([0.0, 9.99, 10.0, 99.5, 100.0])
)

operations = st.one_of(
    st.tuples(st.just("create"), owner, segment, arr, churn),
    st.tuples(st.just("delete"), pick),
    st.tuples(st.just("owner"), pick, owner),
    st.tuples(st.just("segment"), pick, segment),
    st.tuples(st.just("arr"), pick, arr),
    st.tuples(st.just("churn"), pick, churn),
    st.tuples(st.just("bulk"), pick, owner, segment, churn),
    st.tuples(st.just("recompute"), pick, st.floats(0, 25, allow_nan=False), st.booleans()),
    # None: that column is left as it is (a level changed alone, or a score alone).
    st.tuples(st.just("health_orm"), pick, st.none() | score_value, st.sampled_from(LEVELS)),
    st.tuples(st.just("health_sql"), pick, score_value, st.none() | st.sampled_from(LEVELS)),
    st.tuples(st.just("health_delete"), pick),
    st.tuples(st.just("user_delete"), st.integers(0, 2)),
)


class Book:
    def __init__(self) -> None:
        self.alice = UserFactory(username="alice", role=User.Role.CSM)
        self.bob = UserFactory(username="bob", role=User.Role.CSM)
        self.maggie = UserFactory(username="maggie", role=User.Role.MANAGER)
        team = TeamFactory(name="Team")
        team.members.add(self.alice)
        team.managers.add(self.maggie)
        self.usage = usage_model()
        # Whole-point steps of 2.5 points: scores off the integer grid, a scale of its own.
        make_model(
            "impact",
            kind="points",
            components=[{"metric": "logins", "rule": "per_unit", "params": {"points": 2.5}}],
            bands=[("Critical", None, "critical"), ("Stable", 0, "neutral"),
                   ("Superstar", 40, "healthy")],
            segment="enterprise",
        )  # fmt: skip
        self.today = timezone.localdate()
        self.created = 0
        self.runs = 0

    def people(self) -> list[User]:
        return list(User.objects.filter(username__in=["alice", "bob", "maggie"]).order_by("pk"))

    def owner(self, index: int | None) -> User | None:
        people = self.people()
        return None if index is None or not people else people[index % len(people)]

    def account(self, index: int) -> Account | None:
        ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        return Account.objects.get(pk=ids[index % len(ids)]) if ids else None

    def churn_date(self, days: int | None) -> dt.date | None:
        return None if days is None else self.today + dt.timedelta(days=days)

    def upsert(self, account: Account, **fields) -> None:
        accounts_bulk_upsert(rows=[{"external_id": account.external_id, **fields}])

    def apply(self, op: tuple) -> None:
        kind, *args = op
        if kind == "create":
            index, seg, value, days = args
            self.created += 1
            accounts_bulk_upsert(
                rows=[
                    {
                        "external_id": f"acct-{self.created}",
                        "name": f"Account {self.created}",
                        "owner": self.owner(index),
                        "segment": seg,
                        "arr": value,
                        "churned_at": self.churn_date(days),
                    }
                ]
            )
            return
        if kind == "user_delete":
            people = self.people()
            if len(people) > 1:
                people[args[0] % len(people)].delete()
            return
        account = self.account(args[0])
        if account is None:
            return
        if kind == "delete":
            accounts_delete(accounts=Account.objects.filter(pk=account.pk))
        elif kind == "owner":
            self.upsert(account, owner=self.owner(args[1]))
        elif kind == "segment":
            self.upsert(account, segment=args[1])
        elif kind == "arr":
            self.upsert(account, arr=args[1])
        elif kind == "churn":
            self.upsert(account, churned_at=self.churn_date(args[1]))
        elif kind == "bulk":
            _, index, seg, days = args
            half = Account.objects.filter(pk__gte=account.pk)
            half.update(owner=self.owner(index), segment=seg, churned_at=self.churn_date(days))
        elif kind == "recompute":
            _, logins, everyone = args
            self.runs += 1
            at = START + dt.timedelta(hours=self.runs)
            add_signal(account, "logins", logins, at - dt.timedelta(minutes=30))
            if everyone:
                run = scoring_run_create(as_of=at)
            else:
                run = scoring_run_create(scope="account", account=account, as_of=at)
            scoring_run_execute(run=run)
        elif kind == "health_orm":
            _, value, level = args
            changes = {"level": level} if value is None else {"score": value, "level": level}
            AccountHealth.objects.filter(account=account).update(**changes)
        elif kind == "health_sql":
            _, value, level = args
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE scoring_accounthealth SET score = %s, level = COALESCE(%s, level)"
                    " WHERE account_id = %s",
                    [value, level, account.pk],
                )
        elif kind == "health_delete":
            AccountHealth.objects.filter(account=account).delete()


@pytest.mark.slow
@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=14))
# Every path at least once, in an order where each one matters: scored accounts in two
# models, a level changed alone, a score alone (raw SQL), a churn date ahead then past,
# an owner removed, a bulk update, the owner deleted, health and accounts deleted.
@example(
    ops=[
        ("create", 0, "smb", Decimal("10.50"), None),
        ("create", 1, "enterprise", Decimal("99.99"), 30),
        ("create", None, "mid_market", Decimal("0.01"), -1),
        ("recompute", 0, 7.3, True),
        ("health_orm", 0, None, "critical"),
        ("health_sql", 1, 55.5, None),
        ("churn", 0, 1),
        ("owner", 1, None),
        ("recompute", 1, 12.0, False),
        ("bulk", 1, 2, "mid_market", -1),
        ("churn", 1, None),
        ("user_delete", 0),
        ("health_delete", 1),
        ("delete", 0),
    ]
)
def test_the_figures_equal_a_from_scratch_aggregate_after_any_writes(ops):
    with transaction.atomic():
        book = Book()
        for op in ops:
            book.apply(op)
            people: list[User | None] = [None, *book.people()]
            check(people, book.today)
        # Rebuilding from scratch changes nothing, however often.
        before = figures_in_table()
        figures_rebuild()
        figures_rebuild()
        assert figures_in_table() == before
        transaction.set_rollback(True)


# --- Rebuild, flush ----------------------------------------------------------------------


@pytest.fixture
def scored(db):
    book = Book()
    for i, seg in enumerate(SEGMENTS * 2):
        book.apply(("create", i, seg, Decimal("1234.56"), [None, 30, -5][i % 3]))
    for i in range(6):
        book.apply(("recompute", i, 3.3 * i, True))
    return book


def test_the_rebuild_command_puts_back_figures_that_were_lost_or_damaged(scored):
    expected = figures_from_scratch()
    assert expected[0] and expected[1] and figures_in_table() == expected
    BookFigure.objects.filter(segment="smb").update(accounts=99)
    ScoreFigure.objects.all().delete()
    assert figures_in_table() != expected
    out = io.StringIO()
    call_command("rebuild_figures", stdout=out)
    assert figures_in_table() == expected
    assert "Rebuilt the book's figures" in out.getvalue()
    call_command("rebuild_figures", stdout=io.StringIO())
    assert figures_in_table() == expected


def test_emptying_the_tables_empties_the_figures_whatever_the_order(scored):
    """What a test database's flush does between tests: TRUNCATE on PostgreSQL (a
    trigger rebuilds), DELETE table by table on SQLite (the last account clears them)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
            cursor.execute("TRUNCATE scoring_accounthealth CASCADE")
            assert figures_in_table() == figures_from_scratch()
            assert not figures_in_table()[1]
            cursor.execute("TRUNCATE accounts_account CASCADE")
        else:
            # Django's flush, the figure tables first: the accounts' deletes come after.
            tables = connection.introspection.django_table_names(only_existing=True)
            tables.sort(
                key=lambda table: table not in ("scoring_bookfigure", "scoring_scorefigure")
            )
            for statement in connection.ops.sql_flush(no_style(), tables):
                cursor.execute(statement)
    assert BookFigure.objects.count() == ScoreFigure.objects.count() == 0


def test_a_score_distribution_cuts_at_whole_points():
    """The step of 2.5 is gone from the round widths, so every bucket starts on a whole
    point and the figures' counts per whole point give it exactly."""
    assert [_nice_step(span) for span in (1, 10, 11, 20, 21, 50, 200, 201, 250, 251)] == [
        1, 1, 2, 2, 5, 5, 20, 25, 25, 50,
    ]  # fmt: skip
