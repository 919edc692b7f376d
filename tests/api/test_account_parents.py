"""The parent company through the API (``parent``, by external id, on the account's shape,
read and written; ``?top_level=true`` on the list) and through CSV export and import
(the "Parent" column): the same write path and the same refusals as every door."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Account
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(alice, bob):
    group = AccountFactory(external_id="acme", name="Acme Group", owner=alice)
    AccountFactory(external_id="acme-de", name="Acme Germany", owner=alice, parent=group)
    AccountFactory(external_id="acme-it", name="Acme Italy", owner=bob, parent=group)
    AccountFactory(external_id="solo", name="Solo Ltd", owner=alice)
    return group


def parent_of(external_id: str) -> str | None:
    account = Account.objects.select_related("parent").get(external_id=external_id)
    return account.parent.external_id if account.parent else None


def test_an_account_reads_with_its_parents_external_id(acme, api_as):
    api = api_as("accounts:read")
    assert api.get("/api/v1/accounts/acme-de/").json()["parent"] == "acme"
    assert api.get("/api/v1/accounts/acme/").json()["parent"] is None


def test_the_list_of_top_level_accounts(acme, api_as, alice):
    api = api_as("accounts:read")
    every = [a["external_id"] for a in api.get("/api/v1/accounts/").json()["results"]]
    top = [a["external_id"] for a in api.get("/api/v1/accounts/?top_level=true").json()["results"]]
    assert every == ["acme-de", "acme", "acme-it", "solo"]  # by name
    assert top == ["acme", "solo"]
    assert [
        a["external_id"] for a in api.get("/api/v1/accounts/?top_level=false").json()["results"]
    ] == every
    # Alice's token: her book only, Bob's subsidiary left out either way.
    mine = api_as("accounts:read", user=alice)
    assert [a["external_id"] for a in mine.get("/api/v1/accounts/").json()["results"]] == [
        "acme-de",
        "acme",
        "solo",
    ]


def test_put_patch_and_bulk_set_a_parent(acme, api_as):
    api = api_as("accounts:write")
    response = api.patch("/api/v1/accounts/solo/", {"parent": "acme"}, format="json")
    assert response.status_code == 200 and response.json()["parent"] == "acme"
    assert parent_of("solo") == "acme"
    response = api.patch("/api/v1/accounts/solo/", {"parent": None}, format="json")
    assert response.json()["parent"] is None

    response = api.post(
        "/api/v1/accounts/bulk/",
        {
            "accounts": [
                {"external_id": "beta-us", "name": "Beta US", "parent": "beta"},
                {"external_id": "beta", "name": "Beta Holdings"},
                {"external_id": "beta-x", "name": "Beta X", "parent": "beta-x"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "created": 2,
        "updated": 0,
        "rejected": [
            {
                "index": 2,
                "external_id": "beta-x",
                "errors": {"parent": ["An account cannot be its own parent."]},
            }
        ],
    }
    assert parent_of("beta-us") == "beta"


def test_refusals_say_what_and_where(acme, api_as):
    api = api_as("accounts:write")
    response = api.patch("/api/v1/accounts/acme/", {"parent": "acme-de"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["parent"] == [
        "'acme-de' is a subsidiary of this account (acme → acme-de → acme): that would be a loop."
    ]
    response = api.put("/api/v1/accounts/new/", {"name": "New", "parent": "ghost"}, format="json")
    assert response.status_code == 400
    assert (
        "No account has the external id 'ghost'" in response.json()["error"]["fields"]["parent"][0]
    )
    assert not Account.objects.filter(external_id="new").exists()
    assert parent_of("acme") is None


def test_the_export_carries_the_parent_and_imports_back(acme, tmp_path: Path, client_as, ada):
    response = client_as(ada).get(reverse("accounts:export"))
    exported = b"".join(response.streaming_content).decode()
    lines = exported.splitlines()
    assert lines[0].startswith("External id,Name,Domain,Owner,Parent,")
    assert [line.split(",")[4] for line in lines[1:]] == ["acme", "", "acme", ""]

    # Into an empty book: the subsidiaries come before their parent in the file (by
    # name), in the same batch.
    Account.objects.all().delete()
    path = tmp_path / "accounts.csv"
    path.write_text(exported, encoding="utf-8")
    stdout = io.StringIO()
    call_command("import_accounts", str(path), stdout=stdout, stderr=io.StringIO())
    assert "accounts created: 4" in stdout.getvalue()
    assert parent_of("acme-de") == parent_of("acme-it") == "acme"


def test_an_import_reports_a_bad_parent_with_its_line(acme, tmp_path: Path):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "external_id,name,parent\nsolo,Solo Ltd,acme\nacme,Acme Group,acme-de\nlost,Lost,nowhere\n",
        encoding="utf-8",
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_accounts", str(path), stdout=stdout, stderr=stderr)
    report = stdout.getvalue() + stderr.getvalue()

    assert "line 3: parent: 'acme-de' is a subsidiary of this account" in report
    assert "line 4: parent: No account has the external id 'nowhere'" in report
    assert parent_of("solo") == "acme"
    assert parent_of("acme") is None


def test_a_persons_token_names_only_a_parent_in_its_reach(acme, api_as, alice, bob):
    # Bob's token: Acme Group is Alice's, so to him it reads as no account at all.
    bobs = api_as("accounts:write", user=bob)
    response = bobs.patch("/api/v1/accounts/acme-it/", {"parent": "solo"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["parent"] == [
        "No account has the external id 'solo' (nor does any row given with it)."
    ]
    assert parent_of("acme-it") == "acme"
    # Alice's reaches her own.
    alices = api_as("accounts:write", user=alice)
    response = alices.patch("/api/v1/accounts/solo/", {"parent": "acme"}, format="json")
    assert response.status_code == 200 and parent_of("solo") == "acme"
