"""/api/v1/saved-views/: a token acting for a person lists the views that person may open,
saves views for them and deletes their own; the same rules as the list page's."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import SavedView, Team
from accounts.services import saved_view_create

URL = "/api/v1/saved-views/"


def save(owner, name, query="", team=None) -> SavedView:
    return saved_view_create(
        owner=owner, name=name, query=query, team=team, bands=[], now=timezone.now()
    )


def test_a_token_lists_what_its_person_may_open(api_as, book, alice, bob, charlie):
    enterprise = Team.objects.get(name="Enterprise")
    save(alice, "Alice alone", "segment=smb")
    shared = save(alice, "Alice for Enterprise", "level=at_risk", team=enterprise)
    save(charlie, "Charlie alone")
    response = api_as("accounts:read", user=bob).get(URL)
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "id": shared.pk,
            "name": "Alice for Enterprise",
            "query": "level=at_risk&sort=name",
            "team": "Enterprise",
            "owner": "alice",
            "url": "/accounts/?level=at_risk&sort=name",
            "created_at": shared.created_at.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_an_integration_token_lists_the_shared_views_only(api_as, book, alice):
    save(alice, "Alice alone")
    save(alice, "Shared", team=Team.objects.get(name="Enterprise"))
    names = [view["name"] for view in api_as("accounts:read").get(URL).json()["results"]]
    assert names == ["Shared"]


def test_a_token_saves_a_view_for_its_person(api_as, book, alice):
    client = api_as("accounts:write", user=alice)
    response = client.post(
        URL,
        {"name": "Renewals", "query": "renewal=90&sort=renewal_date", "team": "Enterprise"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["owner"], body["team"]) == ("alice", "Enterprise")
    assert body["query"] == "renewal=90&sort=renewal_date"
    assert SavedView.objects.get().owner == alice


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "X", "query": "page=2"}, "query", "Not a filter of the account list: page."),
        ({"name": "X", "query": "band=Nope"}, "query", "These filters cannot be saved: Band:"),
        ({"name": "X", "query": "", "team": "SMB"}, "team", "Alice is not on the team SMB"),
        ({"name": "  ", "query": ""}, "name", "This field may not be blank."),
    ],
)
def test_a_view_the_list_would_refuse_is_a_400_naming_its_field(
    api_as, book, alice, body, field, message
):
    response = api_as("accounts:write", user=alice).post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"][field][0].startswith(message), error
    assert not SavedView.objects.exists()


def test_a_taken_name_is_a_400(api_as, book, alice):
    save(alice, "Mine")
    response = api_as("accounts:write", user=alice).post(
        URL, {"name": "mine", "query": ""}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["name"] == [
        "Alice already has a view called “mine”: choose another name."
    ]


def test_a_token_for_no_one_cannot_save_a_view(api_as, book):
    response = api_as("accounts:write").post(URL, {"name": "X", "query": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_without_user"


def test_the_scopes(api_as, book, alice):
    view = save(alice, "Mine")
    reader = api_as("accounts:read", user=alice)
    assert reader.post(URL, {"name": "X", "query": ""}, format="json").status_code == 403
    assert reader.delete(f"{URL}{view.pk}/").status_code == 403
    assert api_as("scores:read", user=alice).get(URL).status_code == 403


# own / team / other / missing: a person deletes their own views; anything else is 404.
DELETE_MATRIX = [
    ("alice", 204),
    ("bob", 404),  # shared with his team, but not his
    ("maggie", 404),
    ("charlie", 404),
    ("ada", 404),
    (None, 404),  # an integration token owns no views
]


@pytest.mark.parametrize(("persona", "status"), DELETE_MATRIX)
def test_only_the_owner_deletes_a_view(request, api_as, book, ada, persona, status):
    alice = request.getfixturevalue("alice")
    view = save(alice, "Shared", team=Team.objects.get(name="Enterprise"))
    user = request.getfixturevalue(persona) if persona else None
    client = api_as("accounts:write", user=user)
    response = client.delete(f"{URL}{view.pk}/")
    assert response.status_code == status
    assert SavedView.objects.filter(pk=view.pk).exists() == (status == 404)
    if status == 404:
        assert client.delete(f"{URL}999999/").json() == response.json()  # alike


def test_the_owner_renames_reshares_and_refilters_a_view(api_as, book, alice, bob):
    view = save(alice, "Mine", "segment=smb")
    taken = save(alice, "Taken")
    client = api_as("accounts:write", user=alice)
    url = f"{URL}{view.pk}/"

    renamed = client.patch(url, {"name": "Small ones", "team": "Enterprise"}, format="json")
    assert renamed.status_code == 200, renamed.json()
    assert (renamed.json()["name"], renamed.json()["team"]) == ("Small ones", "Enterprise")
    assert renamed.json()["query"] == "segment=smb&sort=name"  # left alone
    refiltered = client.patch(
        url, {"query": "sort=-arr&level=critical", "team": None}, format="json"
    )
    assert refiltered.json()["query"] == "level=critical&sort=-arr"
    assert refiltered.json()["team"] is None

    for body, field in (({"query": "colour=red"}, "query"), ({"name": taken.name}, "name")):
        response = client.patch(url, body, format="json")
        assert response.status_code == 400, response.json()
        assert field in response.json()["error"]["fields"], response.json()
    view.refresh_from_db()
    assert (view.name, view.query, view.team) == ("Small ones", "level=critical&sort=-arr", None)

    # Anyone else's view, or a token for no one: 404, as a missing one, and no change.
    for other in (api_as("accounts:write", user=bob), api_as("accounts:write")):
        assert other.patch(url, {"name": "Stolen"}, format="json").status_code == 404
    assert client.patch(f"{URL}999999/", {"name": "x"}, format="json").status_code == 404
    view.refresh_from_db()
    assert view.name == "Small ones"
