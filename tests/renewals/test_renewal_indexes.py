"""The renewals page reads its rows in order from the renewal-date indexes on PostgreSQL,
in each scope (the whole book, a manager's teams, one CSM's book, an owner chosen), on the
first page and past a position: the window is a range of the index, and the widest one
(120 days) of the whole book or of a chosen owner is read in order with no sort of its
rows (an incremental sort of ties within the index's order is fine; a range this book
makes short — 30 days, a manager's tenth of the book — the planner may read whole and
sort). The book is the account list's plan tests' 20,000
accounts of 20 CSMs."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from accounts.models import User
from renewals.selectors import PAGE_SIZE, Position, renewals_upcoming
from tests.accounts.test_list_sort_indexes import (
    TODAY,
    big_book,  # noqa: F401  (the fixture)
    node_types,
)
from tests.plans import plan_of

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans"),
]


def index_names(plan: dict) -> set[str]:
    names = {plan["Index Name"]} if "Index Name" in plan else set()
    return names.union(*(index_names(child) for child in plan.get("Plans", [])))


def test_every_scope_reads_its_renewals_along_an_index(big_book):  # noqa: F811
    bob = User.objects.get(username="bob")
    unserved = []
    for scope, user in big_book.items():
        owners = [None, *([str(bob.pk)] if scope != "csm" else [])]
        for owner in owners:
            for within in (30, 120):
                first = renewals_upcoming(user=user, today=TODAY, within=within, owner=owner)
                rows = list(first[:PAGE_SIZE])
                assert rows, (scope, owner, within)
                after = Position(rows[-1].renewal_date, rows[-1].pk)  # type: ignore[arg-type]
                following = renewals_upcoming(
                    user=user, today=TODAY, within=within, owner=owner, after=after
                )
                for page in (first, following):
                    plan = plan_of(page[: PAGE_SIZE + 1])
                    indexes = index_names(plan)
                    wanted = {"account_owner_renewal", "accounts_ac_renewal_d2ec78_idx"}
                    # A narrow window (or a manager's share of it: a tenth of this book)
                    # is a short range of the index: the planner may rightly read it
                    # whole and sort it. The whole book's widest and an owner's are
                    # walked in order.
                    walked = within == 120 and (scope == "admin" or owner is not None)
                    sorted_ = walked and "Sort" in node_types(plan)
                    if sorted_ or not indexes & wanted:
                        unserved.append((scope, owner, within, json.dumps(plan)[:800]))
    assert not unserved, "\n".join(map(str, unserved))
