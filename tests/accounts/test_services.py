"""The write side of accounts, as the importer and the API use it: validate, then upsert."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Account, User
from accounts.services import (
    AccountsInvalid,
    account_upsert,
    account_validate,
    accounts_bulk_upsert,
    accounts_save,
    accounts_validate,
)
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_json_values_from_the_api_validate_like_csv_text(alice):
    validation = account_validate(
        data={
            "external_id": 1042,
            "name": "  Acme  ",
            "owner": "alice",
            "segment": "ENTERPRISE",
            "arr": 1999.5,
            "renewal_date": dt.date(2027, 1, 31),
            "churned_at": None,
            "attributes": {"tier": 1},
        }
    )

    assert validation.ok, validation.errors
    assert validation.cleaned == {
        "external_id": "1042",
        "name": "Acme",
        "owner": alice,
        "segment": "enterprise",
        "arr": Decimal("1999.50"),
        "renewal_date": dt.date(2027, 1, 31),
        "churned_at": None,
        "attributes": {"tier": 1},
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "x" * 201, "At most 200 characters (this has 201)."),
        ("external_id", "   ", "This field is required."),
        ("segment", "", "This field is required: one of smb, mid_market, enterprise."),
        ("lifecycle_stage", "dormant", "'dormant' is not one of onboarding, adopting, mature"),
        ("arr", "-0.01", "Must not be negative (got -0.01)."),
        ("arr", "12.345", "At most 2 decimal places (got 12.345)."),
        ("arr", "1e13", "Too large: at most 12 digits before the point."),
        ("arr", "NaN", "'NaN' is not a number."),
        ("arr", True, "Must be a number."),
        ("arr", "12,000", "'12,000' is not a number."),
        ("contract_start", "2025-1-5", "'2025-1-5' is not a date as YYYY-MM-DD."),
        ("contract_start", "20250105", "'20250105' is not a date as YYYY-MM-DD."),
        ("renewal_date", dt.datetime(2025, 1, 5, 10, 0), "not a date and time"),
        ("churned_at", 20250105, "Must be a date as YYYY-MM-DD."),
        ("attributes", '{"a": }', "Not valid JSON (Expecting value at character 7)."),
        ("attributes", '"text"', "Must be a JSON object"),
        ("owner", "nobody", "No user has the username 'nobody'."),
        ("domain", "acme .com", "'acme .com' is not a domain name."),
        ("domain", "javascript:alert(7)", "'javascript:alert(7)' is not a domain name."),
        ("domain", "acme..example", "'acme..example' is not a domain name."),
        ("attributes", "[" * 40 + "]" * 40, "nests deeper than 32 levels"),
        ("colour", "red", "Unknown field."),
        ("external_id", "a/b", "May not contain '/': it is part of the URL."),
        ("external_id", "bulk", "'bulk' is reserved"),
        ("external_id", 1.5, "Must be text."),
        ("name", 42, "Must be text."),
        ("plan", "Gold\x00", "May not contain NUL"),
        (
            "attributes",
            {"a": ["\x00"]},
            "May not contain NUL (\\u0000) characters (found at ['a'][0])",
        ),
        ("attributes", '{"a": "\\u0000"}', "May not contain NUL"),
    ],
)
def test_each_bad_value_is_an_error_on_its_own_field(field, value, message):
    validation = account_validate(data={"external_id": "x", "name": "X", field: value})

    assert not validation.ok
    assert list(validation.errors) == [field]
    assert message in validation.errors[field][0]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("acme.example", "acme.example"),
        ("ACME.Example", "acme.example"),
        ("https://www.acme.example:8443/pricing?x=1", "acme.example"),
        ("www.acme.example.", "acme.example"),
        ("http://shop.acme.example/", "shop.acme.example"),
        ("www.example", "www.example"),  # nothing would be left of a name
        ("  ", ""),
    ],
)
def test_a_domain_is_stored_as_its_host_name(given, stored):
    assert account_validate(data={"domain": given}, partial=True).cleaned == {"domain": stored}


@pytest.mark.parametrize("given", ["Mid-market", "mid_market", "MID-MARKET", " mid-Market "])
def test_a_choice_is_its_value_or_its_label_in_any_case(given):
    validation = account_validate(data={"segment": given}, partial=True)
    assert validation.cleaned == {"segment": "mid_market"}


def test_an_inactive_user_cannot_be_given_accounts(alice):
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    validation = account_validate(data={"owner": "alice"}, partial=True)

    assert validation.errors == {
        "owner": ["The user 'alice' is inactive: accounts go to active users only."]
    }
    assert "owner" not in validation.cleaned


def test_owners_may_be_limited_to_a_set_and_others_worded_as_asked(alice, bob):
    validations = accounts_validate(
        rows=[{"owner": "alice"}, {"owner": "bob"}],
        partial=True,
        owners=User.objects.filter(username="alice"),
        owner_unknown="Not yours: {username}.",
    )

    assert validations[0].cleaned == {"owner": alice}
    assert validations[1].errors == {"owner": ["Not yours: bob."]}


def test_rows_may_be_partial_one_by_one():
    new, existing = accounts_validate(rows=[{"arr": "1"}, {"arr": "1"}], partial=[False, True])

    assert set(new.errors) == {"external_id", "name"}
    assert existing.ok


def test_accounts_save_writes_nothing_when_a_row_is_bad():
    rows = [{"external_id": "a", "name": "A"}, {"external_id": "b", "name": "B", "arr": "-1"}]

    with pytest.raises(AccountsInvalid) as refused:
        accounts_save(rows=rows)

    assert refused.value.errors == {1: {"arr": ["Must not be negative (got -1)."]}}
    assert not Account.objects.exists()


def test_a_partial_update_needs_neither_external_id_nor_name():
    assert account_validate(data={"arr": "10"}, partial=True).ok
    assert account_validate(data={"arr": "10"}).errors == {
        "external_id": ["This field is required."],
        "name": ["This field is required."],
    }


def test_an_upsert_without_create_leaves_unknown_accounts_unwritten():
    AccountFactory(external_id="known", plan="Old")

    result = accounts_bulk_upsert(
        rows=[{"external_id": "known", "plan": "New"}, {"external_id": "gone", "plan": "New"}],
        create=False,
    )

    assert (result.created, result.updated, result.missing) == ([], ["known"], ["gone"])
    assert list(Account.objects.values_list("external_id", "plan")) == [("known", "New")]


def test_owners_of_many_rows_are_resolved_in_one_query(alice, bob, django_assert_num_queries):
    rows = [
        {"external_id": f"e{n}", "name": "N", "owner": ("alice", "bob")[n % 2]} for n in range(50)
    ]

    with django_assert_num_queries(1):
        validations = accounts_validate(rows=rows)

    assert {v.cleaned["owner"] for v in validations} == {alice, bob}


def test_account_upsert_creates_then_updates_only_the_fields_given(alice):
    account, created = account_upsert(external_id="acme", name="Acme", owner=alice, plan="Growth")
    assert created

    again, created = account_upsert(external_id="acme", plan="Enterprise")

    assert not created and again.pk == account.pk
    again.refresh_from_db()
    assert (again.name, again.owner, again.plan) == ("Acme", alice, "Enterprise")
    with pytest.raises(TypeError, match="unknown fields: colour"):
        account_upsert(external_id="acme", colour="red")


def test_bulk_upsert_counts_created_and_updated_across_batches():
    existing = AccountFactory(external_id="acct-0001", name="Old name", plan="Legacy")
    rows = [{"external_id": f"acct-{n:04d}", "name": f"Account {n}"} for n in range(2500)]

    result = accounts_bulk_upsert(rows=rows, batch_size=1000)

    assert len(result.created) == 2499
    assert result.updated == ["acct-0001"]
    assert Account.objects.count() == 2500
    existing_after = Account.objects.get(pk=existing.pk)
    assert existing_after.name == "Account 1"
    # Fields a row does not give keep their value; the creation time is kept too.
    assert existing_after.plan == "Legacy"
    assert existing_after.created_at == existing.created_at
    assert existing_after.updated_at > existing.updated_at


def test_bulk_upsert_applies_a_repeated_external_id_over_the_earlier_row():
    result = accounts_bulk_upsert(
        rows=[
            {"external_id": "a", "name": "First", "arr": Decimal("10"), "attributes": {"x": 1}},
            {"external_id": "a", "name": "Second", "attributes": {"y": 2}},
        ],
        merge_attributes=True,
    )

    assert result.created == ["a"]
    account = Account.objects.get(external_id="a")
    assert (account.name, account.arr, account.attributes) == ("Second", 10, {"x": 1, "y": 2})


def test_bulk_upsert_merges_attributes_into_the_stored_ones_only_when_asked():
    AccountFactory(external_id="m", attributes={"keep": True, "tier": "gold"})
    AccountFactory(external_id="r", attributes={"keep": True, "tier": "gold"})

    accounts_bulk_upsert(
        rows=[{"external_id": "m", "attributes": {"tier": "platinum"}}], merge_attributes=True
    )
    accounts_bulk_upsert(rows=[{"external_id": "r", "attributes": {"tier": "platinum"}}])

    assert Account.objects.get(external_id="m").attributes == {"keep": True, "tier": "platinum"}
    assert Account.objects.get(external_id="r").attributes == {"tier": "platinum"}
