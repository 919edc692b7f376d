"""The CSV export's two writers: COPY on PostgreSQL and Python elsewhere write the same
bytes for the same data, keep the list's scope, filters and order, and stream."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.export import _copy_rows, _python_rows, export_rows, score_cell
from accounts.models import Account
from scoring.models import AccountHealth
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_model

EXPORT_URL = reverse("accounts:export")
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")

TRICKY_NAMES = [
    'Quote "Q" Ltd',
    "Comma, Inc",
    "Line\nbreak",
    "Carriage\r\nreturn",
    '=HYPERLINK("http://evil.example")',
    "+1 Plus",
    "-minus",
    "@at",
    "\ttab",
    "\rcr",
    "Ünïcødé — 東京 😀",
    "'already quoted",
    " leading space",
    '""',
    "\\.",
]


@pytest.fixture
def tricky_book(alice, bob):
    """Accounts with every kind of awkward cell, some scored with awkward numbers."""
    model = make_model(
        "health",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 100,
            }
        ],
        bands=[("At-risk", 0, "at_risk"), ("Healthy", 50, "healthy")],
    )
    accounts = []
    for i, name in enumerate(TRICKY_NAMES):
        accounts.append(
            AccountFactory(
                name=name,
                external_id=f"-x{i}" if i % 5 == 0 else f"crm-{i:03}",
                domain="@evil.example" if i % 3 == 0 else "",
                plan="" if i % 2 else "=SUM(A1)",
                owner=[alice, bob, None][i % 3],
                arr=Decimal("1200.50") if i == 4 else Decimal(i * 1000),
                contract_start=None if i % 2 else dt.date(2025, 1, 1),
                renewal_date=dt.date(2026, 3, 1) + dt.timedelta(days=i),
                churned_at=dt.date(2026, 1, 2) if i == 7 else None,
            )
        )
    now = timezone.now()
    for account in accounts[:10]:
        add_signal(account, "logins", 7, now - dt.timedelta(days=1))
    scoring_run_execute(run=scoring_run_create(as_of=now))
    awkward = [0.125, 12.345, -0.001, 99.995, None, 1e-7, 100.0, 33.333333333333336, -75.0, 2.675]
    for account, value in zip(accounts[:10], awkward, strict=True):
        AccountHealth.objects.filter(account=account).update(score=value, trend_30d=value)
    AccountHealth.objects.filter(account=accounts[1]).update(trend_30d=None, level="")
    assert model
    return accounts


def body(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def test_scores_round_half_away_from_zero_with_no_negative_zero():
    assert [score_cell(v) for v in (0.125, 2.675, -0.001, -75.0, None, 1e-7)] == [
        "0.13",
        "2.68",
        "0.00",
        "-75.00",
        "",
        "0.00",
    ]


@on_postgresql
def test_copy_and_python_write_the_same_bytes(tricky_book):
    for order in (["name", "pk"], ["-arr", "pk"], ["health__score", "pk"]):
        accounts = Account.objects.order_by(*order)
        copied = b"".join(_copy_rows(accounts))
        written = b"".join(_python_rows(accounts))
        assert copied == written
    assert copied.count(b"\r\n") >= len(TRICKY_NAMES) + 1


def test_the_file_reads_back_with_every_awkward_cell(client_as, ada, tricky_book):
    response = client_as(ada).get(EXPORT_URL, {"sort": "name"})
    text = body(response).decode()
    assert text.startswith("External id,Name,Domain,Owner,Parent,Segment,Plan,Lifecycle stage,ARR,")
    assert text.split("\n", 1)[0].endswith("30-day change\r")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_name = {row["Name"]: row for row in rows}
    assert len(rows) == len(TRICKY_NAMES)
    for name in TRICKY_NAMES:
        shown = "'" + name if name.startswith(("=", "+", "-", "@", "\t", "\r")) else name
        assert shown in by_name, name
    formula = by_name["'" + '=HYPERLINK("http://evil.example")']
    assert formula["ARR"] == "1200.50"
    assert formula["Health score"] == "" and formula["30-day change"] == ""  # no score
    plain = by_name['Quote "Q" Ltd']
    assert plain["External id"] == "'-x0"
    assert plain["Domain"] == "'@evil.example"
    assert plain["Plan"] == "'=SUM(A1)"
    assert plain["Owner"] == "alice"
    assert plain["Contract start"] == "2025-01-01"
    assert plain["Health score"] == "0.13"
    assert plain["Band"] == "At-risk"
    assert by_name["Comma, Inc"]["30-day change"] == ""
    assert by_name["Comma, Inc"]["Health score"] == "12.35"
    assert by_name["Line\nbreak"]["Owner"] == ""
    assert by_name["Ünïcødé — 東京 😀"]["Health score"] == ""  # not scored
    assert by_name["'\ttab"]["30-day change"] == "-75.00"  # a number keeps its sign
    assert by_name["'-minus"]["Health score"] == "100.00"


def test_the_export_keeps_the_scope_filters_and_order(client_as, alice, tricky_book):
    rows = list(
        csv.DictReader(
            io.StringIO(
                body(client_as(alice).get(EXPORT_URL, {"sort": "-arr"})).decode(), newline=""
            )
        )
    )
    assert {row["Owner"] for row in rows} == {"alice"}
    mine = [a for a in tricky_book if a.owner_id == alice.pk]
    assert [row["Name"] for row in rows] == [
        "'" + a.name if a.name.startswith(("=", "+", "-", "@", "\t", "\r")) else a.name
        for a in sorted(mine, key=lambda a: (-a.arr, a.name, a.pk))
    ]
    at_risk = client_as(alice).get(EXPORT_URL, {"band": "At-risk", "sort": "name"})
    names = [row["Name"] for row in csv.DictReader(io.StringIO(body(at_risk).decode(), newline=""))]
    assert names and len(names) < len(rows)


def test_an_empty_result_is_the_header_alone(client_as, alice, tricky_book):
    response = client_as(alice).get(EXPORT_URL, {"q": "no such account"})
    assert body(response).count(b"\r\n") == 1


def test_the_first_bytes_come_before_the_rows_are_read(tricky_book):
    chunks = export_rows(Account.objects.order_by("name", "pk"))
    first = next(chunks)
    assert first.startswith(b"External id,")
    assert b"crm-" not in first  # the header goes out before the query has run
    assert b"crm-" in b"".join(chunks)
