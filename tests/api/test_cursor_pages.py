"""The API's lists page by cursor: following ``next`` from the first page, or
``previous`` back from the last, reads every row once, in the list's order, with any
ordering it offers (ties, NULLs last either way, annotations); a page costs the same
queries at any depth; a cursor that was tampered with, or made for another order, is
a 400 naming it; rows written between two pages neither repeat nor skip the others."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from itertools import chain

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.filters import ORDERINGS
from accounts.models import Account
from config.api import CursorPagination
from config.keyset import sort_keys
from playbooks.models import Task
from tests.factories import AccountFactory
from tests.scoring.builders import ragged_health

LIST = "/api/v1/accounts/"
NAMES = ["Acme", "Borealis", "Cobalt", "Delta", "Ember"]


@pytest.fixture
def ragged_book(alice):
    """Fifteen accounts with repeated names, ARR and renewal dates, some never scored,
    and 30-day changes that tie or are missing."""
    today, draw = timezone.localdate(), random.Random(7)
    accounts = [
        AccountFactory(
            name=NAMES[i % len(NAMES)],
            owner=alice,
            arr=Decimal(draw.choice([0, 9_000, 50_000])),
            renewal_date=draw.choice([None, today + dt.timedelta(days=30), today]),
        )
        for i in range(15)
    ]
    ragged_health(accounts, draw=draw, unscored_every=4)


def ids(body: dict) -> list[str]:
    return [row["external_id"] for row in body["results"]]


def walk(api, params: dict, *, direction: str = "next", start: dict | None = None) -> list:
    """Every page from ``start`` (the first page by default) along ``direction``."""
    body = start or api.get(LIST, params).json()
    pages = [ids(body)]
    while body[direction]:
        response = api.get(body[direction])
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(ids(body))
    return pages


@pytest.mark.parametrize("ordering", [*ORDERINGS, "-arr,renewal_date", "score,-name"])
def test_next_and_previous_read_every_account_once_in_the_lists_order(
    ragged_book, api_as, ordering
):
    api = api_as("accounts:read")
    whole = ids(api.get(LIST, {"ordering": ordering, "page_size": 1000}).json())
    assert len(whole) == 15

    forward = walk(api, {"ordering": ordering, "page_size": 4})
    assert [len(page) for page in forward] == [4, 4, 4, 3]
    assert list(chain.from_iterable(forward)) == whole

    last = api.get(LIST, {"ordering": ordering, "page_size": 4, "page": 4}).json()
    assert ids(last) == forward[-1]  # numbered pages and cursors agree
    # Back from the last page by cursor: the same pages, newest link first.
    from_last = api.get(forward_links(api, ordering)[-1]).json()
    backward = walk(api, {}, direction="previous", start=from_last)
    assert list(chain.from_iterable(reversed(backward))) == whole


def forward_links(api, ordering: str) -> list[str]:
    body, links = api.get(LIST, {"ordering": ordering, "page_size": 4}).json(), []
    while body["next"]:
        links.append(body["next"])
        body = api.get(body["next"]).json()
    return links


def test_the_first_page_has_no_previous_and_the_last_no_next(ragged_book, api_as):
    api = api_as("accounts:read")
    first = api.get(LIST, {"page_size": 10}).json()
    last = api.get(first["next"]).json()

    assert first["previous"] is None and first["next"]
    assert last["next"] is None and last["previous"]
    assert "count" not in first  # counting the book would cost more than the page
    back = api.get(last["previous"]).json()
    assert ids(back) == ids(first) and back["previous"] is None


def test_a_page_costs_the_same_queries_at_any_depth(ragged_book, api_as):
    api = api_as("accounts:read")
    api.get(LIST)  # the token's first use is recorded once; leave it out
    first_url = f"{LIST}?ordering=-score&page_size=2"
    deep_url = walk_to_last_link(api, first_url)
    with CaptureQueriesContext(connection) as first:
        api.get(first_url)
    with CaptureQueriesContext(connection) as deep:
        api.get(deep_url)
    # The deep page may read its rows in two ranges (the scored, then the unscored).
    assert len(deep) <= len(first) + 1


def walk_to_last_link(api, url: str) -> str:
    body = api.get(url).json()
    while True:
        following = api.get(body["next"]).json()
        if not following["next"]:
            return body["next"]
        body = following


def test_rows_written_between_pages_neither_repeat_nor_skip_the_others(ragged_book, api_as):
    api = api_as("accounts:read")
    before = ids(api.get(LIST, {"ordering": "-arr", "page_size": 1000}).json())
    first = api.get(LIST, {"ordering": "-arr", "page_size": 5}).json()
    AccountFactory(name="Aardvark", arr=Decimal(1_000_000))  # sorts before the page read

    rest = walk(api, {}, start=api.get(first["next"]).json())

    assert ids(first) + list(chain.from_iterable(rest)) == before


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("not-a-cursor", "Not a cursor of this list"),
        ("eyJvIjoibmFtZSxwayIsInYiOlsxXX0", "Not a cursor of this list"),  # one value, two keys
    ],
)
def test_a_cursor_that_was_tampered_with_is_a_400_naming_it(ragged_book, api_as, cursor, message):
    response = api_as("accounts:read").get(LIST, {"cursor": cursor})
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["fields"]["cursor"][0]


def test_a_cursor_made_for_another_order_is_a_400(ragged_book, api_as):
    api = api_as("accounts:read")
    by_arr = api.get(LIST, {"ordering": "-arr", "page_size": 2}).json()
    cursor = by_arr["next"].split("cursor=")[1].split("&")[0]

    response = api.get(LIST, {"ordering": "name", "cursor": cursor})

    assert response.status_code == 400
    assert "another order" in response.json()["error"]["fields"]["cursor"][0]


def test_tasks_page_by_cursor_in_priority_order(alice, api_as):
    account = AccountFactory(owner=alice)
    today = timezone.localdate()
    for i, priority in enumerate(["low", "urgent", "normal", "urgent", "high", "low", "normal"]):
        Task.objects.create(
            account=account,
            title=f"Task {i}",
            priority=priority,
            assignee=alice,
            due_date=today + dt.timedelta(days=i % 3),
        )
    api = api_as("tasks:read")
    whole = api.get("/api/v1/tasks/", {"ordering": "priority", "page_size": 100}).json()
    body = api.get("/api/v1/tasks/", {"ordering": "priority", "page_size": 3}).json()
    walked = [t["id"] for t in body["results"]]
    while body["next"]:
        body = api.get(body["next"]).json()
        walked += [t["id"] for t in body["results"]]

    assert walked == [t["id"] for t in whole["results"]]
    assert [t["priority"] for t in whole["results"]][:2] == ["urgent", "urgent"]


def test_a_nullable_column_sorts_its_nulls_last_on_every_database(db):
    keys = sort_keys(Account.objects.order_by("-churned_at"))
    assert [(k.name, k.descending, k.nulls) for k in keys] == [
        ("churned_at", True, "last"),
        ("pk", False, None),
    ]
    keys = sort_keys(Account.objects.order_by("owner", "-pk"))
    assert [(k.name, k.descending, k.nulls) for k in keys] == [
        ("owner_id", False, "last"),  # by the key, not the related model's ordering
        ("pk", True, None),
    ]
    assert CursorPagination.cursor_query_param == "cursor"


def rows_read(plan: dict) -> int:
    """The most rows any scan in the plan read (actual rows, all loops)."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)
    if "Scan" not in plan["Node Type"]:
        own = 0
    return max([own, *(rows_read(child) for child in plan.get("Plans", []))])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans")
@pytest.mark.parametrize("ordering", ["name", "-arr", "renewal_date", "-renewal_date"])
def test_a_deep_page_reads_a_pages_worth_of_rows_not_the_rows_before_it(db, api_as, ordering):
    today = timezone.localdate()
    Account.objects.bulk_create(
        [
            Account(
                external_id=f"acc-{n}",
                name=f"Account {(n * 7919) % 20000:05}",
                arr=Decimal((n * 104729) % 500000),
                renewal_date=None if n % 7 == 0 else today + dt.timedelta(days=(n * 31) % 700),
            )
            for n in range(20000)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_account")
    api = api_as("accounts:read")
    body = api.get(LIST, {"ordering": ordering, "page_size": 1000}).json()
    for _ in range(9):  # to the 11th page of 1,000: 10,000 accounts before it, 9,000 after
        body = api.get(body["next"]).json()
    statements: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        if 'FROM "accounts_account"' in sql:
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = api.get(body["next"])

    assert response.status_code == 200 and len(response.json()["results"]) == 1000
    assert statements
    for sql, params in statements:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # as on a large book
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            (plan,) = cursor.fetchone()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        # A page's worth (and the row past it), plus ties of the first key at most.
        assert rows_read(plan[0]["Plan"]) <= 1100, (ordering, sql, plan_nodes(plan[0]["Plan"]))


def plan_nodes(plan: dict, depth: int = 0) -> str:
    line = f"{'  ' * depth}{plan['Node Type']} {plan.get('Index Name', '')} rows={plan.get('Actual Rows')}"
    return "\n".join([line, *(plan_nodes(child, depth + 1) for child in plan.get("Plans", []))])
