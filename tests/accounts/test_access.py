"""The access matrix: every role against every page and every account (own / team / other).

An account outside a user's scope answers 404 — never 403, never its data.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.selectors import accounts_visible_to

# Who may open which account page: (persona, account owner) -> status.
DETAIL_MATRIX = [
    ("alice", "alice", 200),  # a CSM: own account
    ("alice", "bob", 404),  # a CSM: a team-mate's account
    ("alice", "charlie", 404),  # a CSM: another team's account
    ("maggie", "alice", 200),  # a manager: her team's accounts
    ("maggie", "bob", 200),
    ("maggie", "charlie", 404),  # a manager: another team's account
    ("mark", "charlie", 200),
    ("mark", "alice", 404),
    ("ada", "alice", 200),  # an admin: everything
    ("ada", "bob", 200),
    ("ada", "charlie", 200),
]


@pytest.mark.parametrize(("persona", "owner", "status"), DETAIL_MATRIX)
def test_account_page_answers_by_scope(request, book, client_as, ada, persona, owner, status):
    user = request.getfixturevalue(persona)
    response = client_as(user).get(reverse("accounts:detail", args=[book[owner].pk]))
    assert response.status_code == status
    if status == 404:
        assert book[owner].name.encode() not in response.content


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("alice", {"alice"}),
        ("bob", {"bob"}),
        ("charlie", {"charlie"}),
        ("maggie", {"alice", "bob"}),
        ("mark", {"charlie"}),
        ("ada", {"alice", "bob", "charlie"}),
    ],
)
def test_list_home_and_export_show_only_the_scope(request, book, client_as, ada, persona, visible):
    user = request.getfixturevalue(persona)
    client = client_as(user)
    expected = {book[owner].name for owner in visible}
    hidden = {account.name for account in book.values()} - expected

    assert {a.name for a in accounts_visible_to(user=user)} == expected
    for url in (reverse("accounts:list"), reverse("accounts:export")):
        response = client.get(url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for name in expected:
            assert name.encode() in body, (url, name)
        for name in hidden:
            assert name.encode() not in body, (url, name)
    home = client.get(reverse("home"))
    assert home.status_code == 200


@pytest.mark.parametrize(
    "url_name", ["home", "accounts:list", "accounts:export", "password_change"]
)
def test_anonymous_visitors_are_sent_to_log_in(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_visitor_cannot_see_an_account_page(client, book):
    response = client.get(reverse("accounts:detail", args=[book["alice"].pk]))
    assert response.status_code == 302


def test_a_missing_account_and_a_hidden_one_look_the_same(book, client_as, alice):
    client = client_as(alice)
    hidden = client.get(reverse("accounts:detail", args=[book["charlie"].pk]))
    missing = client.get(reverse("accounts:detail", args=[999_999]))
    assert hidden.status_code == missing.status_code == 404

    def without_csrf(body: bytes) -> bytes:
        body = re.sub(rb'"X-CSRFToken": "[^"]+"', b"", body)
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)

    assert without_csrf(hidden.content) == without_csrf(missing.content)


def test_a_deactivated_user_sees_nothing(book, alice):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert not accounts_visible_to(user=alice).exists()


@pytest.mark.parametrize(("persona", "status"), [("alice", 302), ("maggie", 302), ("ada", 200)])
def test_only_admins_reach_the_admin(request, book, client_as, persona, status):
    user = request.getfixturevalue(persona)
    response = client_as(user).get(reverse("admin:accounts_account_changelist"))
    assert response.status_code == status


@pytest.mark.parametrize(
    ("persona", "status"), [("alice", 404), ("maggie", 200), ("mark", 200), ("ada", 200)]
)
def test_managers_see_the_accounts_nobody_owns_to_hand_them_out(
    request, client_as, book, persona, status
):
    from tests.factories import AccountFactory

    orphan = AccountFactory(name="Orphan Org", external_id="orphan", owner=None)
    user = request.getfixturevalue(persona)
    client = client_as(user)
    assert client.get(reverse("accounts:detail", args=[orphan.pk])).status_code == status
    listed = client.get(reverse("accounts:list"), {"owner": "none"}).content.decode()
    assert ("Orphan Org" in listed) == (status == 200)
    assert "Acme Analytics" not in listed  # owned: not in the unowned list
    whole = client.get(reverse("accounts:list")).content.decode()
    assert ("Orphan Org" in whole) == (status == 200)
