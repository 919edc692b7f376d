"""Saved views of the account list: a person names the list's filters and sort, keeps the
view to themselves or shares it with a team, opens it as a plain link, renames and deletes
their own.

Alice and Bob are on the Enterprise team, which Maggie manages; Charlie is on the SMB team,
which Mark manages; Ada is CS ops. Every door — the page, the API, admin — writes through
``accounts.services.saved_views`` and is held to the same rules here.
"""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SavedView, Team
from accounts.selectors import saved_views_visible_to
from accounts.services import (
    SavedViewInvalid,
    saved_view_create,
    saved_view_query_clean,
    saved_view_update,
)
from tests.factories import AccountFactory

LIST_URL = reverse("accounts:list")
VIEWS_URL = reverse("accounts:views")
NEW_URL = reverse("accounts:view-new")


def save(owner, name, query="", team=None, bands=()) -> SavedView:
    return saved_view_create(
        owner=owner, name=name, query=query, team=team, bands=bands, now=timezone.now()
    )


def team(name: str) -> Team:
    return Team.objects.get(name=name)


def listed(response) -> list[str]:
    assert response.status_code == 200
    names = re.findall(r'<a href="/accounts/\d+/">([^<]+)</a>', response.content.decode())
    return [html.unescape(name) for name in names]


# --- What a view stores --------------------------------------------------------------------


def test_a_query_is_stored_in_one_form_however_it_was_typed(book, alice):
    query = "sort=-arr&level=&segment=enterprise&q=++Acme++&customer=active"
    assert (
        saved_view_query_clean(query=query, user=alice, bands=[])
        == "q=Acme&segment=enterprise&customer=active&sort=-arr"
    )
    # The owner filter by id, the sort given even when it was left to its default.
    assert saved_view_query_clean(query=f"?owner={alice.pk}", user=alice, bands=[]) == (
        f"owner={alice.pk}&sort=name"
    )
    assert saved_view_query_clean(query="", user=alice, bands=[]) == "sort=name"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=2&segment=smb", "Not a filter of the account list: page."),
        ("segmnet=smb", "Not a filter of the account list: segmnet."),
        ("band=Healthy", "These filters cannot be saved: Band: Select a valid choice."),
        ("sort=-votes", "These filters cannot be saved: Sort: Select a valid choice."),
        ("renewal=soon", "These filters cannot be saved: Renewal: Select a valid choice."),
    ],
)
def test_a_query_the_list_would_refuse_is_refused_naming_the_filter(book, alice, query, message):
    with pytest.raises(SavedViewInvalid) as refused:
        save(alice, "Broken", query)
    assert refused.value.field == "query"
    assert refused.value.message.startswith(message)
    assert not SavedView.objects.exists()


def test_a_band_that_a_model_has_is_accepted(book, alice):
    view = save(alice, "At risk", "band=At-risk", bands=["Healthy", "At-risk"])
    assert view.query == "band=At-risk&sort=name"


def test_an_owner_outside_the_saver_s_book_is_a_stale_query(book, alice, charlie, maggie):
    with pytest.raises(SavedViewInvalid, match="Owner: Select a valid choice"):
        save(alice, "Charlie's", f"owner={charlie.pk}")
    # Maggie manages Alice: the same filter is hers to save.
    assert save(maggie, "Alice's", f"owner={alice.pk}").query == f"owner={alice.pk}&sort=name"


def test_names_are_unique_per_person_in_any_letter_case(book, alice, bob):
    save(alice, "Renewals")
    with pytest.raises(SavedViewInvalid, match="already has a view called “renewals”"):
        save(alice, " renewals ")
    with pytest.raises(SavedViewInvalid, match="Give the view a name"):
        save(alice, "   ")
    assert save(bob, "Renewals").owner == bob  # another person's name is free


def test_a_view_is_shared_only_with_one_of_the_saver_s_teams(book, alice, maggie, ada):
    with pytest.raises(SavedViewInvalid) as refused:
        save(alice, "Mine to share", team=team("SMB"))
    assert refused.value.field == "team"
    assert "Alice is not on the team SMB" in refused.value.message
    assert save(alice, "Enterprise risks", team=team("Enterprise")).team.name == "Enterprise"
    assert save(maggie, "For my team", team=team("Enterprise")).team.name == "Enterprise"
    assert save(ada, "For SMB", team=team("SMB")).team.name == "SMB"  # admins: any team


# --- Who sees which -------------------------------------------------------------------------


def test_who_may_open_which_view(request, book, alice, bob, charlie, maggie, mark, ada):
    save(alice, "Alice alone")
    save(alice, "Alice for Enterprise", team=team("Enterprise"))
    save(charlie, "Charlie for SMB", team=team("SMB"))
    save(ada, "Ada alone")
    expected = {
        "alice": {"Alice alone", "Alice for Enterprise"},
        "bob": {"Alice for Enterprise"},  # a team-mate: the shared one only
        "maggie": {"Alice for Enterprise"},  # her team's manager
        "charlie": {"Charlie for SMB"},
        "mark": {"Charlie for SMB"},
        # Admins see every shared view and their own, never another's personal ones.
        "ada": {"Alice for Enterprise", "Charlie for SMB", "Ada alone"},
    }
    for persona, names in expected.items():
        user = request.getfixturevalue(persona)
        assert {view.name for view in saved_views_visible_to(user=user)} == names, persona


def test_a_deactivated_person_sees_no_views(book, alice):
    save(alice, "Alice alone")
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert not saved_views_visible_to(user=alice).exists()


# --- The pages -----------------------------------------------------------------------------


def test_alice_saves_the_list_she_is_looking_at_and_opens_it_again(client_as, alice, book):
    AccountFactory(name="Amber Enterprise", owner=alice, segment="enterprise")
    client = client_as(alice)
    page = client.get(LIST_URL, {"segment": "enterprise", "sort": "-arr", "q": ""})
    body = page.content.decode()
    # "Save this view" carries the list's filters as a view would store them.
    assert 'name="query" value="segment=enterprise&amp;sort=-arr"' in body
    assert "No saved views yet." in body

    response = client.post(
        NEW_URL, {"name": "Big enterprise", "query": "segment=enterprise&sort=-arr", "team": ""}
    )
    view = SavedView.objects.get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/?segment=enterprise&sort=-arr"
    assert view.team is None

    opened = client.get(response["Location"])
    assert listed(opened) == ["Amber Enterprise"]  # Acme is SMB
    body = opened.content.decode()
    assert "<title>Big enterprise · Accounts · Vitals</title>" in body
    assert f'<a href="{html.escape(view.get_absolute_url())}" aria-current="true">' in body
    assert "Saved the view “Big enterprise”." in body


def test_saving_a_taken_name_says_so_on_the_page(client_as, alice, book):
    save(alice, "Mine")
    response = client_as(alice).post(NEW_URL, {"name": "MINE", "query": "sort=name"})
    assert response.status_code == 400
    assert "Alice already has a view called “MINE”: choose another name." in (
        html.unescape(response.content.decode())
    )
    assert SavedView.objects.count() == 1


def test_sharing_with_another_team_from_the_page_is_refused(client_as, alice, book):
    response = client_as(alice).post(
        NEW_URL, {"name": "Theirs", "query": "sort=name", "team": team("SMB").pk}
    )
    assert response.status_code == 400
    assert "Share with one of your teams; that is not one." in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_team_mate_opens_a_shared_view_from_the_menu(client_as, alice, bob, book):
    shared = save(alice, "Enterprise book", "segment=smb", team=team("Enterprise"))
    body = client_as(bob).get(LIST_URL).content.decode()
    assert f'<a href="{html.escape(shared.get_absolute_url())}">Enterprise book</a>' in body
    assert "Alice · Enterprise" in body
    # Opened by Bob, the same link lists Bob's book through the same filters.
    assert listed(client_as(bob).get(shared.get_absolute_url())) == ["Borealis Bank"]


def test_alice_renames_reshares_and_deletes_her_own_view(client_as, alice, book):
    view = save(alice, "Draft")
    client = client_as(alice)
    edit = reverse("accounts:view-edit", args=[view.pk])
    response = client.post(edit, {"name": "Enterprise renewals", "team": team("Enterprise").pk})
    assert response.status_code == 302
    view.refresh_from_db()
    assert (view.name, view.team) == ("Enterprise renewals", team("Enterprise"))
    page = client.get(VIEWS_URL).content.decode()
    assert "Enterprise renewals" in page

    refused = client.post(edit, {"name": "", "team": ""}, follow=True)
    assert "“Enterprise renewals” was not changed: This field is required." in (
        html.unescape(refused.content.decode())
    )

    response = client.post(reverse("accounts:view-delete", args=[view.pk]))
    assert response.status_code == 302
    assert not SavedView.objects.exists()


# own / team / other: only the owner renames or deletes; anyone else gets a 404.
CHANGE_MATRIX = [
    ("alice", 302),  # her own
    ("bob", 404),  # a team-mate: the view is shared with him, but not his to change
    ("maggie", 404),  # her team's manager
    ("charlie", 404),  # another team
    ("ada", 404),  # an admin changes it in Django admin
]


@pytest.mark.parametrize(("persona", "status"), CHANGE_MATRIX)
@pytest.mark.parametrize("action", ["view-edit", "view-delete"])
def test_only_the_owner_changes_a_view(request, client_as, book, ada, persona, status, action):
    alice = request.getfixturevalue("alice")
    view = save(alice, "Shared", team=team("Enterprise"))
    user = request.getfixturevalue(persona)
    response = client_as(user).post(
        reverse(f"accounts:{action}", args=[view.pk]), {"name": "Taken over", "team": ""}
    )
    assert response.status_code == status
    view_now = SavedView.objects.filter(pk=view.pk).first()
    if status == 404:
        assert view_now is not None and view_now.name == "Shared"
    else:
        assert view_now is None or view_now.name == "Taken over"


def test_the_views_page_lists_own_and_shared_and_hides_the_rest(client_as, bob, alice, book):
    save(alice, "Alice alone")
    save(alice, "Alice for Enterprise", team=team("Enterprise"))
    save(bob, "Bob alone")
    body = client_as(bob).get(VIEWS_URL).content.decode()
    assert "Bob alone" in body
    assert "Alice for Enterprise" in body and "by Alice · Enterprise" in body
    assert "Alice alone" not in body


def test_the_pages_need_a_login(client, book):
    for url in (VIEWS_URL, NEW_URL):
        response = client.get(url) if url == VIEWS_URL else client.post(url, {})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- A stale view, later -------------------------------------------------------------------


def test_a_view_gone_stale_still_opens_and_says_what_is_wrong(client_as, alice, book):
    view = save(alice, "At risk", "band=At-risk", bands=["At-risk"])
    # No scoring model has that band any more: the list shows its error and no rows.
    response = client_as(alice).get(view.get_absolute_url())
    assert "Band: Select a valid choice." in response.content.decode()
    assert listed(response) == []
    # It can still be renamed: the query is not checked again unless it changes.
    saved_view_update(view=view, name="At risk (old)", team=None)
    with pytest.raises(SavedViewInvalid, match="Band: Select a valid choice"):
        saved_view_update(view=view, name="At risk", team=None, query=view.query, bands=[])


# --- Admin -----------------------------------------------------------------------------------


def test_admin_saves_through_the_same_rules(client_as, ada, alice, book):
    client = client_as(ada)
    add = reverse("admin:accounts_savedview_add")
    refused = client.post(add, {"owner": alice.pk, "name": "Bad", "query": "page=3", "team": ""})
    assert refused.status_code == 200
    assert "Not a filter of the account list: page." in refused.content.decode()
    assert not SavedView.objects.exists()

    response = client.post(
        add,
        {"owner": alice.pk, "name": "Ops", "query": "sort=-arr&segment=smb", "team": ""},
    )
    assert response.status_code == 302
    view = SavedView.objects.get()
    assert (view.owner, view.query) == (alice, "segment=smb&sort=-arr")

    change = reverse("admin:accounts_savedview_change", args=[view.pk])
    refused = client.post(change, {"name": "Ops", "query": "", "team": team("SMB").pk})
    assert "Alice is not on the team SMB" in refused.content.decode()
    client.post(change, {"name": "Ops 2", "query": "", "team": team("Enterprise").pk})
    view.refresh_from_db()
    assert (view.name, view.query, view.team) == ("Ops 2", "sort=name", team("Enterprise"))
