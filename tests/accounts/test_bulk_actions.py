"""Bulk actions on the account list: tick rows (or take all that match the filter), then
reassign their owner, create a task on each, or export them — in plain form posts, each
change confirmed with its count before it is made.

Maggie manages Alice and Bob (Enterprise); Mark manages Charlie (SMB); Ada is CS ops.
"""

from __future__ import annotations

import csv
import html
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import owners_assignable_by
from accounts.services import ReassignRefused, SelectionChanged, accounts_reassign
from playbooks.models import Task
from tests.factories import AccountFactory, UserFactory
from tests.scoring.test_figures import figures_from_scratch, figures_in_table

BULK_URL = reverse("accounts:bulk")
LIST_URL = reverse("accounts:list")


def post(client, *, accounts=(), **fields):
    data = {"account": [account.pk for account in accounts], **fields}
    return client.post(BULK_URL, data)


def text(response) -> str:
    return html.unescape(response.content.decode())


def owners() -> dict[str, str | None]:
    return {a.name: a.owner and a.owner.username for a in Account.objects.select_related("owner")}


# --- Reassigning, step by step -----------------------------------------------------------------


def test_maggie_hands_two_accounts_to_bob_after_confirming(client_as, maggie, book, bob):
    client = client_as(maggie)
    mine = [book["alice"], AccountFactory(name="Aurora Air", owner=maggie)]
    fields = {"action": "reassign", "query": "sort=name"}

    # 1. From the list: the new owner is asked for, among those she may give accounts to.
    choose = post(client, accounts=mine, **fields)
    assert choose.status_code == 200
    page = text(choose)
    assert "2 accounts selected: Acme Analytics, Aurora Air." in page
    options = {"alice", "bob", "maggie"}
    for person in options:
        assert f">{person.capitalize()}</option>" in page
    assert ">Charlie</option>" not in page

    # 2. Review: the count and the person, nothing changed yet.
    review = post(client, accounts=mine, stage="review", owner=bob.pk, **fields)
    assert "Reassign 2 accounts to Bob?" in text(review)
    assert 'name="expected" value="2"' in review.content.decode()
    assert owners()["Acme Analytics"] == "alice"

    # 3. Confirmed: one UPDATE, back to the list with what was done.
    with CaptureQueriesContext(connection) as captured:
        done = post(client, accounts=mine, stage="apply", owner=bob.pk, expected=2, **fields)
    assert done.status_code == 302
    assert done["Location"] == f"{LIST_URL}?sort=name"
    updates = [q["sql"] for q in captured if q["sql"].startswith('UPDATE "accounts_account"')]
    assert len(updates) == 1
    assert owners() == {
        "Acme Analytics": "bob",
        "Aurora Air": "bob",
        "Borealis Bank": "bob",
        "Cobalt Cafe": "charlie",
    }
    assert "Reassigned 2 accounts to Bob." in text(client.get(done["Location"]))
    # The book's figures moved with the accounts (the database's triggers keep them).
    assert figures_in_table() == figures_from_scratch()


def test_ada_reassigns_all_that_match_the_filter(client_as, ada, book, mark):
    client = client_as(ada)
    for n in range(4):
        AccountFactory(name=f"Small {n}", owner=book["alice"].owner, segment="mid_market")
    fields = {"action": "reassign", "all": "on", "query": "segment=mid_market&sort=name"}
    review = post(client, stage="review", owner=mark.pk, **fields)
    assert "Reassign 4 accounts to Mark?" in text(review)
    done = post(client, stage="apply", owner=mark.pk, expected=4, **fields)
    assert done.status_code == 302
    assert {name for name, owner in owners().items() if owner == "mark"} == {
        f"Small {n}" for n in range(4)
    }
    assert figures_in_table() == figures_from_scratch()


def test_the_reassignment_is_refused_when_the_selection_changed(client_as, ada, book, mark):
    client = client_as(ada)
    AccountFactory.create_batch(2, owner=mark, segment="mid_market")
    fields = {"action": "reassign", "all": "on", "query": "segment=mid_market"}
    assert "Reassign 2 accounts to Mark?" in text(
        post(client, stage="review", owner=mark.pk, **fields)
    )
    AccountFactory(name="Arrived meanwhile", owner=None, segment="mid_market")
    response = post(client, stage="apply", owner=mark.pk, expected=2, **fields)
    assert response.status_code == 200  # asked again, with the new count
    page = text(response)
    assert "The selection changed since it was confirmed: it has 3 accounts now, not 2." in page
    assert "Reassign 3 accounts to Mark?" in page
    assert owners()["Arrived meanwhile"] is None


def test_a_bulk_reassignment_does_not_query_per_account(client_as, ada, book, mark):
    client = client_as(ada)
    fields = {"action": "reassign", "all": "on", "query": "segment=mid_market", "owner": mark.pk}

    def count(n: int) -> int:
        AccountFactory.create_batch(n, owner=book["alice"].owner, segment="mid_market")
        expected = Account.objects.filter(segment="mid_market").count()
        with CaptureQueriesContext(connection) as captured:
            assert post(client, stage="apply", expected=expected, **fields).status_code == 302
        return len(captured)

    assert count(2) == count(40)


# --- Who may give accounts to whom -------------------------------------------------------------


def test_who_may_receive_accounts(book, alice, bob, charlie, maggie, mark, ada):
    assert set(owners_assignable_by(user=maggie)) == {alice, bob, maggie}
    assert set(owners_assignable_by(user=mark)) == {charlie, mark}
    assert set(owners_assignable_by(user=ada)) == {alice, bob, charlie, maggie, mark, ada}
    assert not owners_assignable_by(user=alice).exists()  # a CSM hands nothing over
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert bob not in set(owners_assignable_by(user=ada))


@pytest.mark.parametrize(
    ("persona", "to", "message"),
    [
        ("alice", "alice", "A CSM cannot hand accounts over; ask your manager to reassign them."),
        ("maggie", "charlie", "Charlie is not on a team you manage"),
        ("ada", "inactive", "The user 'gone' is inactive: accounts go to active users only."),
    ],
)
def test_the_service_refuses_a_new_owner_the_actor_may_not_give_to(
    request, book, ada, persona, to, message
):
    by = request.getfixturevalue(persona)
    if to == "inactive":
        receiver = UserFactory(username="gone", is_active=False)
    else:
        receiver = request.getfixturevalue(to)
    with pytest.raises(ReassignRefused) as refused:
        accounts_reassign(accounts=Account.objects.all(), to=receiver, by=by, now=timezone.now())
    assert refused.value.message.startswith(message)
    assert owners()["Acme Analytics"] == "alice"


def test_the_service_holds_to_the_confirmed_count_and_the_actor_s_scope(book, maggie, bob):
    everything = Account.objects.all()  # Charlie's too: not Maggie's to move
    with pytest.raises(SelectionChanged):
        accounts_reassign(accounts=everything, to=bob, by=maggie, now=timezone.now(), expected=3)
    assert owners()["Acme Analytics"] == "alice"
    moved = accounts_reassign(accounts=everything, to=bob, by=maggie, now=timezone.now())
    assert moved == 2
    assert owners()["Cobalt Cafe"] == "charlie"


def test_a_csm_is_not_offered_reassignment(client_as, alice, book):
    client = client_as(alice)
    page = client.get(LIST_URL).content.decode()
    assert 'value="reassign"' not in page
    assert 'value="task"' in page and 'value="export"' in page
    response = post(
        client, accounts=[book["alice"]], action="reassign", stage="apply", owner=alice.pk,
        expected=1,
    )  # fmt: skip
    assert response.status_code == 400
    assert "Choose someone you may give accounts to; that person is not." in text(response)
    assert owners()["Acme Analytics"] == "alice"


def test_a_manager_cannot_give_to_another_team(client_as, maggie, charlie, book):
    response = post(
        client_as(maggie), accounts=[book["alice"]], action="reassign", stage="review",
        owner=charlie.pk,
    )  # fmt: skip
    assert response.status_code == 400
    assert "Choose someone you may give accounts to" in text(response)


# --- Access: own / team / other ----------------------------------------------------------------

# (persona, whose account is among the ticked ones, answer): outside the scope the whole
# action is refused as a 404 would refuse the one account, and nothing is done.
ACCESS_MATRIX = [
    ("alice", "alice", 302),
    ("alice", "bob", 404),  # a team-mate's
    ("alice", "charlie", 404),  # another team's
    ("maggie", "bob", 302),
    ("maggie", "charlie", 404),
    ("mark", "alice", 404),
    ("ada", "charlie", 302),
]


@pytest.mark.parametrize(("persona", "owner", "status"), ACCESS_MATRIX)
def test_a_bulk_task_only_on_accounts_in_scope(
    request, client_as, book, ada, persona, owner, status
):
    user = request.getfixturevalue(persona)
    own = AccountFactory(owner=user)
    response = post(
        client_as(user), accounts=[own, book[owner]], action="task", stage="apply",
        title="Call them", due_date="2026-12-01", priority="normal", expected=2,
    )  # fmt: skip
    assert response.status_code == status
    if status == 404:
        assert "not in your book or no longer exist" in text(response)
        assert f"id {book[owner].pk}" in text(response)
        assert book[owner].name not in text(response)
        assert not Task.objects.exists()
    else:
        assert Task.objects.count() == 2


def test_an_id_that_is_not_a_number_or_no_selection_is_a_400(client_as, alice, book):
    client = client_as(alice)
    bad = client.post(BULK_URL, {"action": "export", "account": ["12x"]})
    assert bad.status_code == 400
    assert "Accounts are given by their ids (whole numbers)." in text(bad)
    empty = client.post(BULK_URL, {"action": "export"})
    assert empty.status_code == 400
    assert "Select at least one account, or all that match the filter." in text(empty)


def test_the_bulk_page_needs_a_login_and_a_post(client, client_as, alice, book):
    assert client.post(BULK_URL, {"action": "export"})["Location"].startswith(reverse("login"))
    assert client_as(alice).get(BULK_URL).status_code == 405


# --- A task on each ----------------------------------------------------------------------------


def test_alice_creates_a_task_on_each_of_her_accounts(client_as, alice, book):
    client = client_as(alice)
    second = AccountFactory(name="Apex Apps", owner=alice)
    fields = {"action": "task", "all": "on", "query": "sort=name"}
    choose = post(client, **fields)
    assert 'name="title"' in choose.content.decode()
    missing = post(client, stage="review", due_date="2026-12-01", priority="high", **fields)
    assert missing.status_code == 400
    assert "Give the task a title." in text(missing)

    task = {"title": "Plan the QBR", "due_date": "2026-12-01", "priority": "high"}
    review = post(client, stage="review", **task, **fields)
    assert "Create the task “Plan the QBR” (due 1 Dec 2026, High) on 2 accounts?" in text(review)
    assert not Task.objects.exists()
    done = post(client, stage="apply", expected=2, **task, **fields)
    assert done.status_code == 302
    made = Task.objects.select_related("account", "assignee", "created_by")
    assert {(t.account, t.assignee, t.created_by, t.priority) for t in made} == {
        (book["alice"], alice, alice, "high"),
        (second, alice, alice, "high"),
    }
    assert "Created the task “Plan the QBR” on 2 accounts." in text(client.get(done["Location"]))


# --- Export ------------------------------------------------------------------------------------


def exported(response) -> list[str]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return [row["Name"] for row in rows]


def test_export_the_ticked_rows_or_all_that_match(client_as, maggie, book):
    client = client_as(maggie)
    assert exported(post(client, accounts=[book["bob"]], action="export")) == ["Borealis Bank"]
    every = post(client, action="export", all="on", query="sort=-name")
    assert exported(every) == ["Borealis Bank", "Acme Analytics"]
    refused = post(client, accounts=[book["charlie"]], action="export")
    assert refused.status_code == 404


def test_a_filter_the_list_cannot_read_is_refused(client_as, maggie, book):
    response = post(client_as(maggie), action="export", all="on", query="renewal=soon")
    assert response.status_code == 400
    assert "The filter cannot be read: Renewal: Select a valid choice." in text(response)


# --- The list page -----------------------------------------------------------------------------


def test_the_list_offers_a_checkbox_per_row_and_all_that_match(client_as, maggie, book):
    page = client_as(maggie).get(LIST_URL, {"segment": "smb"}).content.decode()
    for account in (book["alice"], book["bob"]):
        assert f'name="account" value="{account.pk}" aria-label="Select {account.name}"' in page
    assert "Select all 2 that match the filter" in page
    assert '<input type="hidden" name="query" value="segment=smb">' in page
    assert 'value="reassign"' in page
