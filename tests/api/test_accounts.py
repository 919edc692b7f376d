"""/api/v1/accounts/: a CRM keeps Vitals' accounts in step with its own.

Personas from tests/conftest.py: Alice and Bob are CSMs on Maggie's team, Charlie is
on Mark's; ``book`` gives each CSM one account (acme, borealis, cobalt).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from accounts.serializers import BULK_MAX_ROWS
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_model

LIST = "/api/v1/accounts/"
BULK = "/api/v1/accounts/bulk/"


def detail(external_id: str) -> str:
    return f"/api/v1/accounts/{external_id}/"


def errors_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


# --- list -----------------------------------------------------------------------------


def test_the_list_pages_through_every_account_for_an_integration_token(book, api_as):
    response = api_as("accounts:read").get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)  # one page holds them all
    assert [a["external_id"] for a in body["results"]] == ["acme", "borealis", "cobalt"]
    acme = body["results"][0]
    assert acme["name"] == "Acme Analytics"
    assert acme["owner"] == "alice"
    assert acme["arr"] == 12000
    assert acme["renewal_date"] == "2027-01-01"


def test_pages_are_numbered_and_sized(db, api_as):
    AccountFactory.create_batch(5)
    api = api_as("accounts:read")

    first = api.get(LIST, {"page_size": 2, "page": 1}).json()
    last = api.get(LIST, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert "page=2" in first["next"]
    assert len(last["results"]) == 1
    assert last["next"] is None
    missing = api.get(LIST, {"page": 9})
    assert missing.status_code == 404
    assert errors_of(missing)["code"] == "not_found"


def test_the_list_costs_the_same_queries_for_3_or_30_accounts(db, api_as):
    api = api_as("accounts:read")
    api.get(LIST)  # the token's first use is recorded once; leave it out of the count
    AccountFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        assert api.get(LIST).status_code == 200
    AccountFactory.create_batch(27)
    with CaptureQueriesContext(connection) as many:
        assert len(api.get(LIST).json()["results"]) == 30
    assert len(many) == len(few) <= 3


def test_filters_by_segment_owner_renewal_and_search(book, api_as):
    book["bob"].segment = Account.Segment.ENTERPRISE
    book["bob"].save()
    book["charlie"].renewal_date = dt.date(2026, 3, 1)
    book["charlie"].save()
    api = api_as("accounts:read")

    def ids(**params) -> list[str]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.content
        return [a["external_id"] for a in response.json()["results"]]

    assert ids(segment="enterprise") == ["borealis"]
    assert ids(owner="charlie") == ["cobalt"]
    assert ids(owner="nobody") == []
    assert ids(renewal_before="2026-03-01") == ["cobalt"]
    assert ids(renewal_before="2026-02-28") == []
    assert ids(search="bank") == ["borealis"]  # in the name
    assert ids(search="cobalt.example") == ["cobalt"]  # in the domain
    assert ids(search="ACME") == ["acme"]  # the external id, exactly
    assert ids(search="zebra") == []


def test_ordering_by_arr_renewal_name_and_creation(db, api_as):
    AccountFactory(external_id="a", name="Zeta", arr=Decimal(5), renewal_date=dt.date(2027, 3, 1))
    AccountFactory(external_id="b", name="Alpha", arr=Decimal(9), renewal_date=dt.date(2027, 1, 1))
    AccountFactory(external_id="c", name="Mid", arr=Decimal(1), renewal_date=dt.date(2027, 2, 1))
    api = api_as("accounts:read")

    def ids(ordering: str) -> list[str]:
        return [a["external_id"] for a in api.get(LIST, {"ordering": ordering}).json()["results"]]

    assert ids("name") == ["b", "c", "a"]
    assert ids("-arr") == ["b", "a", "c"]
    assert ids("renewal_date") == ["b", "c", "a"]
    assert ids("-created_at") == ["c", "b", "a"]
    assert [a["external_id"] for a in api.get(LIST).json()["results"]] == ["b", "c", "a"]
    # An empty value is no value: said so, not taken for the default.
    response = api.get(LIST, {"ordering": ""})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "ordering": ["Give a value, or leave the parameter out."]
    }


def test_filter_by_band_and_order_by_score_with_the_unscored_last(book, api_as):
    make_model(
        "usage",
        components=[{"metric": "logins", "rule": "passthrough", "weight": 100}],
        bands=[("At-risk", None), ("Neutral", 50), ("Healthy", 75)],
    )
    yesterday = timezone.now() - dt.timedelta(days=1)
    add_signal(book["alice"], "logins", 90, yesterday)
    add_signal(book["bob"], "logins", 30, yesterday)
    scoring_run_execute(run=scoring_run_create())  # cobalt has no data: no score
    api = api_as("accounts:read")

    def ids(**params) -> list[str]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.content
        return [a["external_id"] for a in response.json()["results"]]

    assert ids(band="Healthy") == ["acme"]
    assert ids(band="at-risk") == ["borealis"]  # any letter case
    assert ids(band="Neutral") == []
    assert ids(band="Healthy", segment="enterprise") == []
    assert ids(ordering="score") == ["borealis", "acme", "cobalt"]
    assert ids(ordering="-score") == ["acme", "borealis", "cobalt"]
    assert ids(ordering="-score,name") == ["acme", "borealis", "cobalt"]
    assert ids(ordering="score,") == ["borealis", "acme", "cobalt"]  # a stray comma is fine


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"segment": "galactic"}, "segment"),
        ({"renewal_before": "next tuesday"}, "renewal_before"),
        ({"ordering": "karma"}, "ordering"),
    ],
)
def test_a_bad_filter_is_400_naming_it(db, api_as, params, field):
    response = api_as("accounts:read").get(LIST, params)
    assert response.status_code == 400
    error = errors_of(response)
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert field in error["message"]


# --- one account ------------------------------------------------------------------------


def test_get_one_account_by_external_id(book, api_as):
    response = api_as("accounts:read").get(detail("borealis"))
    assert response.status_code == 200
    assert response.json()["name"] == "Borealis Bank"
    missing = api_as("accounts:read").get(detail("nope"))
    assert missing.status_code == 404
    assert errors_of(missing) == {"code": "not_found", "message": "No such account."}


def test_put_creates_then_updates_and_repeating_it_changes_nothing(alice, api_as):
    api = api_as("accounts:write", "accounts:read")
    payload = {
        "name": "Acme Analytics",
        "domain": "acme.example",
        "owner": "alice",
        "segment": "mid_market",
        "plan": "Growth",
        "lifecycle_stage": "adopting",
        "arr": 48000,
        "contract_start": "2026-01-01",
        "renewal_date": "2027-01-01",
        "attributes": {"region": "EMEA"},
    }

    created = api.put(detail("0015g00000XyZ12"), payload, format="json")
    assert created.status_code == 201, created.content
    account = Account.objects.get(external_id="0015g00000XyZ12")
    assert account.owner == alice
    assert account.arr == Decimal("48000")
    assert account.attributes == {"region": "EMEA"}
    assert created.json()["external_id"] == "0015g00000XyZ12"

    again = api.put(detail("0015g00000XyZ12"), payload, format="json")
    assert again.status_code == 200
    assert Account.objects.count() == 1
    assert again.json()["created_at"] == created.json()["created_at"]

    renewed = api.put(
        detail("0015g00000XyZ12"),
        {"renewal_date": "2028-01-01", "arr": "52000.50"},
        format="json",
    )
    assert renewed.status_code == 200
    account.refresh_from_db()
    assert account.renewal_date == dt.date(2028, 1, 1)
    assert account.arr == Decimal("52000.50")
    assert account.name == "Acme Analytics"  # not given: kept
    assert account.updated_at > account.created_at


def test_put_may_carry_the_external_id_but_not_a_different_one(db, api_as):
    api = api_as("accounts:write")
    same = api.put(detail("x1"), {"external_id": "x1", "name": "X"}, format="json")
    assert same.status_code == 201
    other = api.put(detail("x1"), {"external_id": "x2", "name": "X"}, format="json")
    assert other.status_code == 400
    assert "external_id" in errors_of(other)["fields"]


@pytest.mark.parametrize(
    ("payload", "field", "says"),
    [
        # The rules of every door (accounts.services.validation), in its words.
        ({}, "name", "This field is required."),
        ({"name": ""}, "name", "This field is required."),
        ({"name": "X" * 201}, "name", "At most 200 characters (this has 201)."),
        ({"name": 42}, "name", "Must be text."),
        ({"name": "X\u0000"}, "name", "May not contain NUL"),
        ({"name": "X", "arr": -1}, "arr", "Must not be negative (got -1)."),
        ({"name": "X", "arr": "lots"}, "arr", "'lots' is not a number."),
        ({"name": "X", "arr": 10**13}, "arr", "Too large: at most 12 digits"),
        ({"name": "X", "segment": "galactic"}, "segment", "'galactic' is not one of smb,"),
        ({"name": "X", "lifecycle_stage": "asleep"}, "lifecycle_stage", "'asleep' is not one"),
        ({"name": "X", "renewal_date": "31/12/2026"}, "renewal_date", "not a date as YYYY-MM-DD"),
        ({"name": "X", "owner": "nobody"}, "owner", "No user has the username 'nobody'."),
        ({"name": "X", "attributes": ["a"]}, "attributes", "Must be a JSON object"),
        ({"name": "X", "attributes": {"a": "\u0000"}}, "attributes", "found at ['a']"),
        ({"name": "X", "domain": "d" * 254}, "domain", "At most 253 characters"),
        ({"name": "X", "domain": "javascript:alert(7)"}, "domain", "is not a domain name"),
        ({"name": "X", "domain": "<b>acme</b>.example"}, "domain", "is not a domain name"),
    ],
)
def test_put_reports_each_bad_field_by_name(db, api_as, payload, field, says):
    response = api_as("accounts:write").put(detail("new-1"), payload, format="json")

    assert response.status_code == 400
    error = errors_of(response)
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert says in error["fields"][field][0]
    assert not Account.objects.exists()


def test_an_external_id_is_stored_without_surrounding_spaces(db, api_as):
    response = api_as("accounts:write").put(detail("%20spaced%20"), {"name": "S"}, format="json")
    assert response.status_code == 201
    assert response.json()["external_id"] == "spaced"
    assert Account.objects.get().external_id == "spaced"


def test_an_external_id_that_cannot_be_addressed_is_refused(db, api_as):
    response = api_as("accounts:write").post(
        BULK, {"accounts": [{"external_id": "a/b", "name": "X"}]}, format="json"
    )
    assert response.json()["rejected"][0]["errors"]["external_id"] == [
        "May not contain '/': it is part of the URL."
    ]


def test_patch_changes_only_what_it_is_given_and_never_creates(book, api_as):
    api = api_as("accounts:write")
    response = api.patch(detail("acme"), {"lifecycle_stage": "renewing"}, format="json")
    assert response.status_code == 200
    acme = Account.objects.get(external_id="acme")
    assert acme.lifecycle_stage == "renewing"
    assert acme.name == "Acme Analytics"

    missing = api.patch(detail("nope"), {"name": "Nope"}, format="json")
    assert missing.status_code == 404
    assert not Account.objects.filter(external_id="nope").exists()

    bad = api.patch(detail("acme"), {"churned_at": "soon"}, format="json")
    assert bad.status_code == 400
    assert "churned_at" in errors_of(bad)["fields"]


def test_patch_hands_an_account_over_and_clears_a_date(book, api_as):
    api = api_as("accounts:write")
    response = api.patch(detail("acme"), {"owner": "bob", "renewal_date": None}, format="json")
    assert response.status_code == 200
    acme = Account.objects.get(external_id="acme")
    assert acme.owner.username == "bob"
    assert acme.renewal_date is None


def test_delete_answers_204_then_404(book, api_as):
    api = api_as("accounts:write")
    assert api.delete(detail("acme")).status_code == 204
    assert not Account.objects.filter(external_id="acme").exists()
    assert api.delete(detail("acme")).status_code == 404


# --- a token acting for a person ------------------------------------------------------------


SCOPE_MATRIX = [
    # (token's user, account's owner, visible?)
    ("alice", "alice", True),
    ("alice", "bob", False),
    ("alice", "charlie", False),
    ("maggie", "bob", True),
    ("maggie", "charlie", False),
    ("ada", "charlie", True),
]


@pytest.mark.parametrize(("persona", "owner", "visible"), SCOPE_MATRIX)
def test_a_persons_token_reads_only_their_scope(
    request, book, ada, api_as, persona, owner, visible
):
    api = api_as("accounts:read", user=request.getfixturevalue(persona))
    account = book[owner]

    listed = {a["external_id"] for a in api.get(LIST).json()["results"]}
    assert (account.external_id in listed) is visible
    response = api.get(detail(account.external_id))
    assert response.status_code == (200 if visible else 404)
    if not visible:
        assert account.name not in response.content.decode()


@pytest.mark.parametrize(("persona", "owner", "visible"), SCOPE_MATRIX)
def test_a_persons_token_writes_only_their_scope(
    request, book, ada, api_as, persona, owner, visible
):
    api = api_as("accounts:write", "accounts:read", user=request.getfixturevalue(persona))
    account = book[owner]
    url = detail(account.external_id)

    put = api.put(url, {"name": "Renamed"}, format="json")
    patch = api.patch(url, {"plan": "Hacked"}, format="json")
    account.refresh_from_db()
    if visible:
        assert (put.status_code, patch.status_code) == (200, 200)
        assert (account.name, account.plan) == ("Renamed", "Hacked")
        assert api.delete(url).status_code == 204
    else:
        # The same answer as for an account that does not exist; nothing changes.
        assert (put.status_code, patch.status_code) == (404, 404)
        assert errors_of(put) == errors_of(api.get(detail("no-such-account")))
        assert (account.name, account.plan) != ("Renamed", "Hacked")
        assert api.delete(url).status_code == 404
        assert Account.objects.filter(pk=account.pk).exists()


@pytest.mark.parametrize("persona", ["alice", "maggie"])
def test_a_limited_token_cannot_tell_another_teams_account_from_an_unused_id(
    request, book, api_as, persona
):
    # Charlie's account is on the other team, out of Alice's and Maggie's reach.
    api = api_as("accounts:write", "accounts:read", user=request.getfixturevalue(persona))
    body = {"name": "Probe", "plan": "Probe"}
    for method in ("get", "put", "patch", "delete"):
        data = body if method in ("put", "patch") else None
        theirs = getattr(api, method)(detail("cobalt"), data, format="json")
        unused = getattr(api, method)(detail("never-used"), data, format="json")
        assert theirs.status_code == unused.status_code == 404, method
        assert theirs.json() == unused.json(), method
        assert theirs.headers["Content-Length"] == unused.headers["Content-Length"], method
    # ... and the probe created nothing and changed nothing.
    assert not Account.objects.filter(external_id="never-used").exists()
    cobalt = Account.objects.get(external_id="cobalt")
    assert (cobalt.name, cobalt.plan) == ("Cobalt Cafe", "Growth")


@pytest.mark.parametrize(
    ("persona", "creates"), [(None, True), ("ada", True), ("maggie", False), ("alice", False)]
)
def test_only_a_token_that_reaches_every_account_creates_accounts(
    request, book, ada, api_as, persona, creates
):
    user = request.getfixturevalue(persona) if persona else None
    api = api_as("accounts:write", user=user)
    response = api.put(detail("new-1"), {"name": "New One", "owner": "alice"}, format="json")
    assert response.status_code == (201 if creates else 404)
    assert Account.objects.filter(external_id="new-1").exists() is creates


def test_a_csms_token_keeps_her_accounts_in_her_book(book, alice, api_as):
    api = api_as("accounts:write", "accounts:read", user=alice)
    give_away = api.patch(detail("acme"), {"owner": "bob"}, format="json")
    assert give_away.status_code == 400
    # Bob exists, but out of reach reads exactly like nobody at all.
    assert errors_of(give_away)["fields"]["owner"] == [
        "No active user 'bob' that this token may assign accounts to."
    ]
    orphan = api.patch(detail("acme"), {"owner": None}, format="json")
    assert orphan.status_code == 400
    assert "without an owner" in errors_of(orphan)["fields"]["owner"][0]
    assert Account.objects.get(external_id="acme").owner == alice


def test_a_managers_token_moves_accounts_within_her_team(book, maggie, api_as):
    api = api_as("accounts:write", user=maggie)
    assert api.patch(detail("acme"), {"owner": "bob"}, format="json").status_code == 200
    assert api.patch(detail("borealis"), {"owner": "charlie"}, format="json").status_code == 400
    assert Account.objects.get(external_id="borealis").owner.username == "bob"


def test_an_inactive_person_cannot_be_made_owner(alice, api_as):
    alice.is_active = False
    alice.save()
    response = api_as("accounts:write").put(
        detail("n"), {"name": "N", "owner": "alice"}, format="json"
    )
    assert response.status_code == 400
    assert "owner" in errors_of(response)["fields"]


# --- bulk ---------------------------------------------------------------------------------


def test_bulk_stores_good_rows_and_reports_bad_ones_by_index(book, api_as):
    rows = [
        {"external_id": "n-1", "name": "New One", "owner": "charlie", "arr": 1000},
        {"external_id": "acme", "arr": 99000},  # an update
        {"external_id": "n-2", "arr": 5},  # no name for a new account
        {"external_id": "n-3", "name": "Three", "arr": -5, "segment": "huge"},
        "not an object",
        {"name": "No id"},
        {"external_id": "n-1", "name": "Again"},  # repeats row 0
        {"external_id": "n-4", "name": "Four"},
    ]
    response = api_as("accounts:write").post(BULK, {"accounts": rows}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"]) == (2, 1)
    rejected = {row["index"]: row for row in body["rejected"]}
    assert sorted(rejected) == [2, 3, 4, 5, 6]
    assert rejected[2] == {
        "index": 2,
        "external_id": "n-2",
        "errors": {"name": ["This field is required."]},
    }
    assert set(rejected[3]["errors"]) == {"arr", "segment"}
    assert rejected[4]["errors"] == {"non_field_errors": ["Expected a JSON object."]}
    assert rejected[5]["errors"] == {"external_id": ["This field is required."]}
    assert "Repeats row 0" in rejected[6]["errors"]["external_id"][0]

    assert Account.objects.get(external_id="acme").arr == Decimal("99000")
    assert Account.objects.get(external_id="n-1").owner.username == "charlie"
    assert Account.objects.get(external_id="n-1").name == "New One"
    assert Account.objects.filter(external_id="n-4").exists()
    assert not Account.objects.filter(external_id__in=["n-2", "n-3"]).exists()


def test_bulk_through_a_csms_token_rejects_rows_out_of_her_reach(book, api_as, alice):
    rows = [
        {"external_id": "acme", "plan": "Scale"},
        {"external_id": "borealis", "plan": "Scale"},  # Bob's
        {"external_id": "fresh", "name": "Fresh"},
    ]
    body = api_as("accounts:write", user=alice).post(BULK, {"accounts": rows}, format="json")
    body = body.json()
    assert (body["created"], body["updated"]) == (0, 1)
    # Bob's account and an unused id read the same; neither is written.
    not_found = {"external_id": ["No account with this external id within this token's reach."]}
    assert body["rejected"] == [
        {"index": 1, "external_id": "borealis", "errors": not_found},
        {"index": 2, "external_id": "fresh", "errors": not_found},
    ]
    assert Account.objects.get(external_id="borealis").plan == "Growth"
    assert Account.objects.get(external_id="acme").plan == "Scale"
    assert not Account.objects.filter(external_id="fresh").exists()


def test_bulk_costs_a_fixed_number_of_queries_for_2_or_200_rows(db, api_as, alice):
    api = api_as("accounts:write")
    api.post(BULK, {"accounts": []}, format="json")  # record the token's first use
    AccountFactory.create_batch(100, owner=alice)
    existing = list(Account.objects.values_list("external_id", flat=True))

    def rows(n: int, tag: str) -> list[dict]:
        updates = [{"external_id": ext, "plan": tag, "owner": "alice"} for ext in existing[:n]]
        news = [{"external_id": f"{tag}-{i}", "name": f"{tag} {i}"} for i in range(n)]
        return updates + news

    with CaptureQueriesContext(connection) as few:
        assert api.post(BULK, {"accounts": rows(1, "a")}, format="json").json()["created"] == 1
    with CaptureQueriesContext(connection) as many:
        body = api.post(BULK, {"accounts": rows(100, "b")}, format="json").json()
    assert (body["created"], body["updated"], body["rejected"]) == (100, 100, [])
    assert len(few) <= 8
    # A fixed number of queries, not one per row: one INSERT … ON CONFLICT for the
    # updates (they give the same fields) and one for the new accounts, each of which
    # SQLite splits in two at 100 rows (it caps the parameters of a statement).
    assert len(many) - len(few) == (2 if connection.vendor == "sqlite" else 0)


def test_bulk_reads_a_numeric_external_id_as_the_text_it_is(db, api_as):
    AccountFactory(external_id="42", name="Forty-two")
    body = api_as("accounts:write").post(
        BULK, {"accounts": [{"external_id": 42, "plan": "Scale"}]}, format="json"
    )
    assert body.json() == {"created": 0, "updated": 1, "rejected": []}
    assert Account.objects.get(external_id="42").plan == "Scale"


def test_an_account_created_concurrently_is_updated_not_duplicated(db, api_as, monkeypatch):
    """Another request creates the account between our read and our write: the write is
    an upsert on the unique external id, so the row is updated, and answered as such."""
    from accounts import serializers

    validate = serializers.accounts_validate
    calls = []

    def validate_then_lose_the_race(**kwargs):
        validated = validate(**kwargs)
        AccountFactory(external_id="race", name="Created elsewhere", plan="Legacy")
        calls.append(1)
        return validated

    monkeypatch.setattr(serializers, "accounts_validate", validate_then_lose_the_race)
    response = api_as("accounts:write").put(
        detail("race"), {"name": "From the CRM", "plan": "Scale"}, format="json"
    )

    assert response.status_code == 200
    assert len(calls) == 1
    account = Account.objects.get(external_id="race")
    assert (account.name, account.plan) == ("From the CRM", "Scale")
    assert response.json()["name"] == "From the CRM"
    assert Account.objects.count() == 1


def test_a_patch_of_an_account_deleted_meanwhile_does_not_bring_it_back(
    book, api_as, alice, monkeypatch
):
    from accounts import serializers

    validate = serializers.accounts_validate

    def validate_then_lose_the_race(**kwargs):
        validated = validate(**kwargs)
        Account.objects.filter(external_id="acme").delete()
        return validated

    monkeypatch.setattr(serializers, "accounts_validate", validate_then_lose_the_race)
    response = api_as("accounts:write", user=alice).patch(
        detail("acme"), {"plan": "Scale"}, format="json"
    )

    assert response.status_code == 404
    assert not Account.objects.filter(external_id="acme").exists()


def test_bulk_over_the_limit_is_413_and_stores_nothing(db, api_as):
    rows = [{"external_id": f"x-{i}", "name": f"X {i}"} for i in range(BULK_MAX_ROWS + 1)]
    response = api_as("accounts:write").post(BULK, {"accounts": rows}, format="json")

    assert response.status_code == 413
    error = errors_of(response)
    assert error["code"] == "batch_too_large"
    assert "1,000" in error["message"]
    assert "1,001" in error["message"]
    assert not Account.objects.exists()


def test_bulk_at_the_limit_is_accepted(db, api_as):
    rows = [{"external_id": f"x-{i}", "name": f"X {i}"} for i in range(BULK_MAX_ROWS)]
    response = api_as("accounts:write").post(BULK, {"accounts": rows}, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == BULK_MAX_ROWS
    assert Account.objects.count() == BULK_MAX_ROWS


@pytest.mark.parametrize("body", [{}, {"accounts": {"external_id": "x"}}, [{"external_id": "x"}]])
def test_bulk_needs_a_list_under_accounts(db, api_as, body):
    response = api_as("accounts:write").post(BULK, body, format="json")
    assert response.status_code == 400
    assert errors_of(response)["fields"] == {"accounts": ["Expected a list of account objects."]}
