"""One account, three doors: a CSV import, the REST API and Django admin store the same
row for the same input, or refuse it on the same field — in the same words wherever the
door lets the input through to the shared rules (``accounts.services.validation``).

Ada (CS ops) types each input into admin's add form, puts it in a CSV file and sends
it with an integration token; then the three accounts are compared, field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.imports import accounts_import_csv, csv_file_open
from accounts.models import Account, User
from accounts.services import OWNER_INACTIVE, OWNER_UNKNOWN

pytestmark = pytest.mark.django_db

DOORS = ("csv", "api", "admin")
# What a new account is when the input says nothing else (admin's form sends every field).
DEFAULTS = {
    "domain": "",
    "owner": "",
    "segment": "smb",
    "plan": "",
    "lifecycle_stage": "onboarding",
    "arr": "0",
    "contract_start": "",
    "renewal_date": "",
    "churned_at": "",
}


@dataclass
class Outcome:
    stored: tuple | None  # the account as stored, or None when nothing was
    errors: dict[str, list[str]]


def stored(external_id: str) -> tuple | None:
    account = Account.objects.select_related("owner").filter(external_id=external_id).first()
    if account is None:
        return None
    return (
        account.name,
        account.domain,
        account.owner.username if account.owner else None,
        account.segment,
        account.lifecycle_stage,
        account.plan,
        account.arr,
        account.renewal_date,
    )


class Doors:
    def __init__(self, tmp_path: Path, ada: User, client_as, api_as):
        self.tmp_path = tmp_path
        self.admin_client = client_as(ada)
        self.api_client = api_as("accounts:write")

    def write(self, door: str, external_id: str, fields: dict[str, str]) -> Outcome:
        data = {"external_id": external_id, "name": "Acme Analytics", **fields}
        errors = getattr(self, door)(data)
        return Outcome(stored(data["external_id"]), errors)

    def csv(self, data: dict[str, str]) -> dict[str, list[str]]:
        path = self.tmp_path / f"{len(list(self.tmp_path.iterdir()))}.csv"
        quoted = ['"' + value.replace('"', '""') + '"' for value in data.values()]
        path.write_text(f"{','.join(data)}\n{','.join(quoted)}\n", encoding="utf-8")
        report = accounts_import_csv(csv_file=csv_file_open(path=path))
        if not report.rejected:
            return {}
        [rejection] = report.rejected
        assert rejection.line == 2  # the row is named by its line
        return rejection.errors

    def api(self, data: dict[str, str]) -> dict[str, list[str]]:
        response = self.api_client.post(
            "/api/v1/accounts/bulk/", {"accounts": [data]}, format="json"
        )
        assert response.status_code == 200, response.content
        rejected = response.json()["rejected"]
        return rejected[0]["errors"] if rejected else {}

    def admin(self, data: dict[str, str]) -> dict[str, list[str]]:
        form = {**DEFAULTS, "attributes": "{}", **data}
        if form["owner"]:
            user = User.objects.filter(username=form["owner"]).first()
            form["owner"] = user.pk if user else 999_999
        response = self.admin_client.post(reverse("admin:accounts_account_add"), form)
        if response.status_code == 302:
            return {}
        assert response.status_code == 200
        return dict(response.context["adminform"].form.errors)


@pytest.fixture
def doors(tmp_path, ada, client_as, api_as) -> Doors:
    return Doors(tmp_path, ada, client_as, api_as)


def through_every_door(doors: Doors, fields: dict[str, str]) -> dict[str, Outcome]:
    return {door: doors.write(door, f"{door}-1", fields) for door in DOORS}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"domain": "acme.example"}, {"domain": "acme.example"}),
        ({"domain": "https://www.Acme.Example:8443/pricing"}, {"domain": "acme.example"}),
        ({"domain": "WWW.ACME.EXAMPLE."}, {"domain": "acme.example"}),
        ({"domain": "http://shop.acme.example/"}, {"domain": "shop.acme.example"}),
        ({"segment": "mid_market"}, {"segment": "mid_market"}),
        ({"segment": "Mid-market"}, {"segment": "mid_market"}),
        ({"segment": "MID-MARKET"}, {"segment": "mid_market"}),
        ({"lifecycle_stage": "Renewing"}, {"lifecycle_stage": "renewing"}),
        ({"owner": "alice", "plan": "  Growth "}, {"owner": "alice", "plan": "Growth"}),
        ({"arr": "1999.5", "renewal_date": "2027-01-31"}, {"arr": 1999.5}),
    ],
)
def test_the_same_input_is_the_same_stored_account_whichever_door(doors, alice, fields, expected):
    outcomes = through_every_door(doors, fields)

    assert {door: o.errors for door, o in outcomes.items()} == {door: {} for door in DOORS}
    rows = {door: o.stored for door, o in outcomes.items()}
    assert rows["csv"] == rows["api"] == rows["admin"], rows
    account = Account.objects.get(external_id="csv-1")
    for name, value in expected.items():
        got = getattr(account, name)
        assert (got.username if name == "owner" else got) == value


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"domain": "javascript:alert(7)"},
            "domain",
            "'javascript:alert(7)' is not a domain name.",
        ),
        ({"domain": "acme .example"}, "domain", "'acme .example' is not a domain name."),
        ({"segment": "gold"}, "segment", "'gold' is not one of smb, mid_market, enterprise."),
        ({"lifecycle_stage": "asleep"}, "lifecycle_stage", "'asleep' is not one of onboarding"),
        ({"arr": "-5"}, "arr", "Must not be negative (got -5)."),
        ({"name": ""}, "name", "This field is required."),
        ({"external_id": "a/b"}, "external_id", "May not contain '/': it is part of the URL."),
        ({"plan": "p" * 101}, "plan", "At most 100 characters (this has 101)."),
        ({"owner": "retired"}, "owner", OWNER_INACTIVE.format(username="retired")),
    ],
)
def test_every_door_refuses_a_bad_value_on_its_field_in_the_same_words(
    doors, fields, field, message
):
    User.objects.create_user("retired", is_active=False)

    outcomes = through_every_door(doors, fields)

    for door, outcome in outcomes.items():
        assert outcome.stored is None, door  # nothing half-written
        assert list(outcome.errors) == [field], (door, outcome.errors)
        assert outcome.errors[field][0].startswith(message), (door, outcome.errors)
    assert not Account.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "shared"),
    [
        # Admin picks the owner from a list and dates from a calendar: what cannot be
        # picked there is refused by the form's own field, in its own words.
        ({"owner": "nobody"}, "owner", OWNER_UNKNOWN.format(username="nobody")),
        ({"renewal_date": "2027-02-30"}, "renewal_date", "'2027-02-30' is not a valid date."),
    ],
)
def test_what_admin_cannot_pick_is_refused_on_the_same_field(doors, fields, field, shared):
    outcomes = through_every_door(doors, fields)

    for door, outcome in outcomes.items():
        assert outcome.stored is None, door
        assert list(outcome.errors) == [field], (door, outcome.errors)
    assert outcomes["csv"].errors[field] == outcomes["api"].errors[field] == [shared]
    assert not Account.objects.exists()


def test_no_door_hands_an_account_to_someone_who_has_left(doors, book, alice, bob, tmp_path):
    """Bob has left: none of the doors moves Alice's account to him. An account that is
    still his (not handed over yet) can be edited otherwise."""
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    refusal = [OWNER_INACTIVE.format(username="bob")]

    acme_by_bob = {"external_id": "acme", "name": "Acme Analytics", "owner": "bob"}
    assert doors.csv(acme_by_bob) == {"owner": refusal}
    assert doors.api(acme_by_bob) == {"owner": refusal}
    acme = book["alice"]
    change = reverse("admin:accounts_account_change", args=[acme.pk])
    form = doors.admin_client.get(change).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data["attributes"] = "{}"
    response = doors.admin_client.post(change, {**data, "owner": bob.pk})
    assert response.context["adminform"].form.errors == {"owner": refusal}
    acme.refresh_from_db()
    assert acme.owner == alice

    borealis = book["bob"]
    change = reverse("admin:accounts_account_change", args=[borealis.pk])
    form = doors.admin_client.get(change).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    response = doors.admin_client.post(change, {**data, "attributes": "{}", "plan": "Scale"})
    assert response.status_code == 302
    assert doors.api({"external_id": "borealis", "arr": "5"}) == {}
    assert doors.csv({"external_id": "borealis", "name": "Borealis Bank", "arr": "6"}) == {}
    borealis.refresh_from_db()
    assert (borealis.owner, borealis.plan, borealis.arr) == (bob, "Scale", 6)


def test_admin_deletes_through_the_service_one_or_several(doors, book):
    acme, borealis, cobalt = book["alice"], book["bob"], book["charlie"]
    changelist = reverse("admin:accounts_account_changelist")

    doors.admin_client.post(
        reverse("admin:accounts_account_delete", args=[acme.pk]), {"post": "yes"}
    )
    doors.admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [borealis.pk], "post": "yes"},
    )

    assert list(Account.objects.values_list("pk", flat=True)) == [cobalt.pk]
