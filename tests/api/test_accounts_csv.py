"""``GET /api/v1/accounts/`` as CSV (``Accept: text/csv`` or ``?format=csv``): the whole
filtered list in its order, within the token's reach, streamed (``COPY`` on
PostgreSQL), the same bytes as the account list's export of the same accounts; errors
stay JSON; paging parameters are refused; the schema declares it."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection

from accounts.export import HEADER, export_rows
from accounts.models import Account
from tests.factories import AccountFactory

LIST = "/api/v1/accounts/"


@pytest.fixture
def mixed_book(alice, bob, charlie):
    for n, owner in enumerate([alice, alice, bob, charlie, alice, bob]):
        AccountFactory(
            external_id=f"acc-{n}",
            name=f"=Account {5 - n}" if n == 1 else f"Account {5 - n}",
            owner=owner,
            arr=Decimal(1000 * (n % 3)) + Decimal("0.50"),
            segment="smb" if n % 2 else "enterprise",
        )


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    "ask", [{"HTTP_ACCEPT": "text/csv"}, {"data": {"format": "csv"}}], ids=["accept", "format"]
)
def test_the_whole_list_comes_as_one_streamed_csv_file(mixed_book, api_as, ask):
    api = api_as("accounts:read")
    response = api.get(LIST, **ask)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="accounts-')
    rows = rows_of(response)
    assert rows[0] == HEADER
    by_name = Account.objects.order_by("name", "pk").values_list("external_id", flat=True)
    assert [row[0] for row in rows[1:]] == list(by_name)
    assert {row[0]: row[1] for row in rows[1:]}["acc-1"] == "'=Account 4"  # defused


def test_the_file_is_the_pages_export_of_the_same_accounts_byte_for_byte(mixed_book, api_as):
    api = api_as("accounts:read")
    response = api.get(LIST, {"format": "csv", "segment": "smb", "ordering": "-arr"})

    expected = Account.objects.filter(segment="smb").order_by("-arr", "name")
    assert b"".join(response.streaming_content) == b"".join(export_rows(expected))
    assert (
        [row[0] for row in rows_of(api.get(LIST, {"format": "csv", "segment": "smb"}))][1:]
        == [
            "acc-1",  # "=Account 4"
            "acc-5",
            "acc-3",
        ]
        == list(expected.order_by("name").values_list("external_id", flat=True))
    )


def test_a_token_acting_for_a_csm_gets_their_accounts_only(mixed_book, api_as, alice):
    response = api_as("accounts:read", user=alice).get(LIST, {"format": "csv"})

    assert sorted(row[0] for row in rows_of(response)[1:]) == ["acc-0", "acc-1", "acc-4"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_on_postgresql_the_database_writes_the_file(mixed_book, api_as, monkeypatch):
    import psycopg

    copies: list[bytes] = []
    copy = psycopg.Cursor.copy

    def recorded(self, statement, *args, **kwargs):
        copies.append(statement)
        return copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", recorded)
    response = api_as("accounts:read").get(LIST, {"format": "csv"})
    assert copies == []  # nothing read before the body is
    assert len(rows_of(response)) == 7

    assert len(copies) == 1 and copies[0].startswith(b"COPY (")


@pytest.mark.parametrize(
    "params, names",
    [
        ({"page": "2"}, ["page"]),
        ({"page_size": "10", "cursor": "abc"}, ["cursor", "page_size"]),
    ],
)
def test_paging_a_csv_file_is_a_400_naming_the_parameters(mixed_book, api_as, params, names):
    response = api_as("accounts:read").get(LIST, {"format": "csv", **params})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert sorted(response.json()["error"]["fields"]) == names


def test_errors_asked_for_as_csv_are_json(mixed_book, api_as):
    api = api_as("accounts:read")
    bad_filter = api.get(LIST, {"segment": "galactic"}, HTTP_ACCEPT="text/csv")
    no_scope = api_as("tasks:read").get(LIST, HTTP_ACCEPT="text/csv")

    assert bad_filter.status_code == 400 and "segment" in bad_filter.json()["error"]["fields"]
    assert no_scope.status_code == 403 and no_scope["Content-Type"] == "application/json"


def test_json_stays_the_default(mixed_book, api_as):
    response = api_as("accounts:read").get(LIST)

    assert response["Content-Type"] == "application/json"
    assert len(response.json()["results"]) == 6


def test_the_schema_offers_the_csv_file(db, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/accounts/"]["get"]

    assert "text/csv" in operation["responses"]["200"]["content"]
    (fmt,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert sorted(fmt["schema"]["enum"]) == ["csv", "json"]
