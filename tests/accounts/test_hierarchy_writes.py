"""An account's parent through the one write path: named by external id, refused when
unknown, the account itself, one of its own subsidiaries (a loop, however deep) or too
deep a tree; a parent and its subsidiary may come in the same batch, in either order."""

from __future__ import annotations

import pytest

from accounts.models import Account
from accounts.services import (
    HIERARCHY_MAX_DEPTH,
    AccountsInvalid,
    account_upsert,
    accounts_bulk_upsert,
    accounts_delete,
    accounts_save,
    accounts_validate,
)
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def parent_of(external_id: str) -> str | None:
    account = Account.objects.select_related("parent").get(external_id=external_id)
    return account.parent.external_id if account.parent else None


def errors_of(rows: list[dict]) -> list[dict]:
    return [v.errors for v in accounts_validate(rows=rows)]


def test_a_subsidiary_names_its_parent_by_external_id():
    AccountFactory(external_id="acme", name="Acme Group")
    account, _ = account_upsert(external_id="acme-de", name="Acme Germany", parent="acme")

    assert account.parent.external_id == "acme"
    assert [c.external_id for c in Account.objects.get(external_id="acme").children.all()] == [
        "acme-de"
    ]
    # Given empty, the account is top-level again.
    accounts_save(rows=[{"external_id": "acme-de", "name": "Acme Germany", "parent": ""}])
    assert parent_of("acme-de") is None


def test_an_unknown_parent_is_refused_and_nothing_is_written():
    with pytest.raises(AccountsInvalid) as refused:
        accounts_save(rows=[{"external_id": "acme-de", "name": "Acme Germany", "parent": "nope"}])

    assert refused.value.errors == {
        0: {"parent": ["No account has the external id 'nope' (nor does any row given with it)."]}
    }
    assert not Account.objects.exists()


def test_an_account_cannot_be_its_own_parent():
    AccountFactory(external_id="acme")
    assert errors_of([{"external_id": "acme", "name": "Acme", "parent": "acme"}]) == [
        {"parent": ["An account cannot be its own parent."]}
    ]


def test_a_loop_is_refused_naming_it():
    AccountFactory(external_id="a", name="A")
    AccountFactory(external_id="b", name="B", parent=Account.objects.get(external_id="a"))

    assert errors_of([{"external_id": "a", "name": "A", "parent": "b"}]) == [
        {"parent": ["'b' is a subsidiary of this account (a → b → a): that would be a loop."]}
    ]


def test_a_deeper_loop_is_refused_too():
    a = AccountFactory(external_id="a")
    b = AccountFactory(external_id="b", parent=a)
    AccountFactory(external_id="c", parent=b)

    [errors] = errors_of([{"external_id": "a", "name": "A", "parent": "c"}])
    assert errors == {
        "parent": ["'c' is a subsidiary of this account (a → b → c → a): that would be a loop."]
    }
    assert parent_of("a") is None


def test_a_loop_made_within_one_batch_is_refused_on_every_row_of_it():
    AccountFactory(external_id="a")
    AccountFactory(external_id="b")
    rows = [
        {"external_id": "a", "name": "A", "parent": "b"},
        {"external_id": "b", "name": "B", "parent": "a"},
        {"external_id": "c", "name": "C", "parent": "a"},
    ]
    errors = errors_of(rows)

    assert "loop" in errors[0]["parent"][0]
    assert "loop" in errors[1]["parent"][0]
    # "a" exists, and once the loop is refused it keeps its stored (no) parent.
    assert errors[2] == {}


def test_a_tree_deeper_than_the_limit_is_refused():
    parent = None
    for level in range(HIERARCHY_MAX_DEPTH):
        parent = AccountFactory(external_id=f"l{level}", parent=parent)

    [errors] = errors_of([{"external_id": "deep", "name": "Deep", "parent": "l3"}])
    assert errors == {
        "parent": [
            f"Too deep: under 'l3' this account's tree would reach {HIERARCHY_MAX_DEPTH + 1} "
            f"levels; at most {HIERARCHY_MAX_DEPTH}."
        ]
    }
    # Moving a subtree counts its own levels: l1 (with l2 and l3 below) under a new
    # two-level tree would make five.
    AccountFactory(external_id="other", parent=AccountFactory(external_id="top"))
    [errors] = errors_of([{"external_id": "l1", "name": "L1", "parent": "other"}])
    assert "Too deep" in errors["parent"][0]
    [errors] = errors_of([{"external_id": "l2", "name": "L2", "parent": "top"}])
    assert errors == {}


def test_a_parent_and_its_subsidiaries_in_one_batch_in_either_order():
    result = accounts_bulk_upsert(
        rows=[
            {"external_id": "acme-de", "name": "Acme Germany", "parent": "acme"},
            {"external_id": "acme", "name": "Acme Group"},
            {"external_id": "acme-fr", "name": "Acme France", "parent": "acme"},
        ]
    )
    assert sorted(result.created) == ["acme", "acme-de", "acme-fr"]
    assert parent_of("acme-de") == parent_of("acme-fr") == "acme"
    # Validated together, the same rows pass.
    rows = [
        {"external_id": "x-de", "name": "X Germany", "parent": "x"},
        {"external_id": "x", "name": "X Group"},
    ]
    assert errors_of(rows) == [{}, {}]
    accounts_save(rows=rows)
    assert parent_of("x-de") == "x"


def test_a_subsidiary_of_a_refused_row_is_refused_with_it():
    rows = [
        {"external_id": "acme", "name": "", "arr": "1"},
        {"external_id": "acme-de", "name": "Acme Germany", "parent": "acme"},
    ]
    errors = errors_of(rows)
    assert errors[1] == {"parent": ["The parent 'acme' is given in a row that was refused."]}


def test_a_batch_costs_a_handful_of_queries_however_many_parents(django_assert_max_num_queries):
    AccountFactory(external_id="group")
    rows = [{"external_id": "new-top", "name": "New top"}] + [
        {"external_id": f"sub-{n}", "name": f"Sub {n}", "parent": "group" if n % 2 else "new-top"}
        for n in range(200)
    ]
    with django_assert_max_num_queries(14):
        accounts_save(rows=rows)
    assert Account.objects.filter(parent__external_id="new-top").count() == 100
    assert Account.objects.filter(parent__external_id="group").count() == 100


def test_deleting_a_parent_leaves_its_subsidiaries_top_level():
    acme = AccountFactory(external_id="acme")
    AccountFactory(external_id="acme-de", parent=acme)
    accounts_delete(accounts=Account.objects.filter(pk=acme.pk))
    assert parent_of("acme-de") is None


def test_admin_sets_a_parent_by_its_id_refuses_a_loop_and_shows_the_subsidiaries(client_as, ada):
    from django.urls import reverse

    acme = AccountFactory(external_id="acme", name="Acme Group")
    germany = AccountFactory(external_id="acme-de", name="Acme Germany")
    client = client_as(ada)

    def change(account: Account, **fields) -> dict:
        url = reverse("admin:accounts_account_change", args=[account.pk])
        form = client.get(url).context["adminform"].form
        data = {name: form[name].value() or "" for name in form.fields}
        response = client.post(url, {**data, "attributes": "{}", **fields})
        return (
            {} if response.status_code == 302 else dict(response.context["adminform"].form.errors)
        )

    assert change(germany, parent=acme.pk) == {}
    assert parent_of("acme-de") == "acme"
    assert change(acme, parent=germany.pk) == {
        "parent": [
            "'acme-de' is a subsidiary of this account (acme → acme-de → acme): that would be a loop."
        ]
    }
    assert parent_of("acme") is None
    page = client.get(reverse("admin:accounts_account_change", args=[acme.pk])).content.decode()
    assert reverse("admin:accounts_account_change", args=[germany.pk]) in page
    assert "Acme Germany</a> (acme-de)" in page
