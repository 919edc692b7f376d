"""The renewals page and API as each person sees them: a CSM their accounts, a manager
their team's, an admin all; an account out of scope is 404 on every route. Recording
from a row through htmx and as a plain form; the account page's outcomes and timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from renewals.models import RenewalOutcome
from renewals.services import outcome_record

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def soon(book):
    """Alice's renewal in 10 days, Bob's passed 12 days ago, Charlie's in 45 days; a far
    one of Alice's (200 days) in no window."""
    today = timezone.localdate()
    for key, days in (("alice", 10), ("bob", -12), ("charlie", 45)):
        Account.objects.filter(pk=book[key].pk).update(renewal_date=today + dt.timedelta(days=days))
    far = Account.objects.create(
        external_id="far", name="Faraway Foods", owner=book["alice"].owner, arr=5000,
        renewal_date=today + dt.timedelta(days=200),
    )  # fmt: skip
    return {**book, "far": far}


def _names(response) -> list[str]:
    return [row.account.name for row in response.context["rows"]]


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        ("alice", ["Acme Analytics"]),
        ("maggie", ["Borealis Bank", "Acme Analytics"]),
        ("ada", ["Borealis Bank", "Acme Analytics", "Cobalt Cafe"]),
        ("charlie", ["Cobalt Cafe"]),
    ],
)
def test_the_page_lists_the_renewals_in_scope_passed_first(soon, client_as, request, who, seen):
    response = client_as(request.getfixturevalue(who)).get("/renewals/?within=60")
    assert response.status_code == 200
    assert _names(response) == seen


def test_a_passed_renewal_is_flagged_and_the_window_narrows(soon, client_as, maggie):
    client = client_as(maggie)
    page = client.get("/renewals/").content.decode()
    assert "renewal date passed 12 days ago, no outcome" in page
    assert "in 10 days" in page
    assert _names(client.get("/renewals/?within=30")) == ["Borealis Bank", "Acme Analytics"]
    alice = soon["alice"].owner
    assert _names(client.get(f"/renewals/?owner={alice.pk}")) == ["Acme Analytics"]
    # An owner outside her scope matches nothing rather than everything.
    charlie = soon["charlie"].owner
    assert _names(client.get(f"/renewals/?owner={charlie.pk}")) == []


def test_the_list_comes_a_page_at_a_time(soon, client_as, ada, monkeypatch):
    monkeypatch.setattr("renewals.views.PAGE_SIZE", 2)
    client = client_as(ada)
    first = client.get("/renewals/?within=60")
    assert _names(first) == ["Borealis Bank", "Acme Analytics"]
    following = client.get("/renewals/?" + first.context["next_query"])
    assert _names(following) == ["Cobalt Cafe"] and not following.context["next_query"]


def test_htmx_gets_the_list_alone(soon, client_as, alice):
    response = client_as(alice).get("/renewals/?within=30", **HTMX)
    body = response.content.decode()
    assert 'id="renewals"' in body and "<html" not in body


def test_recording_from_a_row_with_htmx_moves_the_renewal_on(soon, client_as, alice):
    acme = soon["alice"]
    due = Account.objects.get(pk=acme.pk).renewal_date
    response = client_as(alice).post(
        f"/renewals/{acme.pk}/outcome/",
        {"kind": "expanded", "arr_after": "15000", "reasons": ["more_seats"],
         "renewal_date": due.isoformat(), "within": "30"},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme Analytics: expanded, next renewal" in body
    # Its row left the 30 days' window, renewed for a year.
    assert f'id="renewal-{acme.pk}"' not in body
    assert "No renewals in the next 30 days." in body
    acme.refresh_from_db()
    assert (acme.arr, acme.renewal_date) == (Decimal("15000.00"), due.replace(year=due.year + 1))
    outcome = RenewalOutcome.objects.get(account=acme)
    assert (outcome.recorded_by, [r.code for r in outcome.reasons.all()]) == (alice, ["more_seats"])


def test_a_refused_outcome_shows_on_its_row_and_writes_nothing(soon, client_as, alice):
    acme = soon["alice"]
    response = client_as(alice).post(
        f"/renewals/{acme.pk}/outcome/",
        {"kind": "downgraded", "arr_after": "20000", "within": "30"},
        **HTMX,
    )
    body = response.content.decode()
    assert "A downgrade lowers the ARR below 12,000.00" in body
    assert not RenewalOutcome.objects.exists()


def test_a_plain_form_records_and_comes_back_with_a_message(soon, client_as, maggie):
    borealis = soon["bob"]
    response = client_as(maggie).post(
        f"/renewals/{borealis.pk}/outcome/",
        {"kind": "churned", "reasons": ["competitor"], "within": "60"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/renewals/?within=60"
    assert "Borealis Bank: churned." in response.content.decode()
    borealis.refresh_from_db()
    assert borealis.churned_at is not None and borealis.lifecycle_stage == "churned"
    assert "Borealis Bank" not in _names(response)


@pytest.mark.parametrize(
    ("who", "account", "status"),
    [("alice", "alice", 302), ("maggie", "bob", 302), ("alice", "bob", 404),
     ("alice", "charlie", 404), ("maggie", "charlie", 404), ("charlie", "alice", 404)],
)  # fmt: skip
def test_recording_is_for_own_and_team_accounts_only(
    soon, client_as, request, who, account, status
):
    client = client_as(request.getfixturevalue(who))
    response = client.post(f"/renewals/{soon[account].pk}/outcome/", {"kind": "renewed"})
    assert response.status_code == status
    assert RenewalOutcome.objects.exists() == (status == 302)


def test_the_page_asks_for_a_login(client, soon):
    assert client.get("/renewals/").status_code == 302


@pytest.mark.parametrize(
    ("who", "account", "status"),
    [("alice", "alice", 200), ("maggie", "bob", 200), ("ada", "charlie", 200),
     ("alice", "bob", 404), ("maggie", "charlie", 404), ("charlie", "alice", 404)],
)  # fmt: skip
def test_the_outcomes_card_is_for_those_who_may_open_the_account(
    soon, client_as, request, who, account, status
):
    client = client_as(request.getfixturevalue(who))
    assert client.get(f"/accounts/{soon[account].pk}/outcomes/").status_code == status


def test_the_account_page_shows_its_outcomes_and_timeline(soon, client_as, alice):
    acme = soon["alice"]
    outcome_record(account=acme, kind="renewed", reasons=["value_proven"], now=timezone.now())
    client = client_as(alice)
    page = client.get(f"/accounts/{acme.pk}/").content.decode()
    assert 'id="account-outcomes"' in page
    timeline = client.get(f"/accounts/{acme.pk}/timeline/", **HTMX).content.decode()
    assert "Renewal: renewed" in timeline
    card = client.get(f"/accounts/{acme.pk}/outcomes/", **HTMX).content.decode()
    assert "Value proven" in card and "<html" not in card
    assert "Value proven" in client.get(f"/accounts/{acme.pk}/outcomes/").content.decode()


# --- API ------------------------------------------------------------------------------------------


def test_the_api_records_and_lists_an_accounts_outcomes(api_as, soon, alice):
    mine = api_as("accounts:read", "accounts:write", user=alice)
    created = mine.post(
        "/api/v1/accounts/acme/outcomes/",
        {"kind": "downgraded", "arr_after": 9000, "reasons": ["price", "poor_adoption"],
         "note": "Cut to one team"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["kind"], body["arr_before"], body["arr_after"], body["reasons"]) == (
        "downgraded", 12000.0, 9000.0, ["price", "poor_adoption"],
    )  # fmt: skip
    assert body["recorded_by"] == "alice"
    assert [o["kind"] for o in mine.get("/api/v1/accounts/acme/outcomes/").json()] == ["downgraded"]
    again = mine.post(
        "/api/v1/accounts/acme/outcomes/",
        {"kind": "expanded", "arr_after": 9500, "renewal_date": body["renewal_date"]},
        format="json",
    )
    assert again.status_code == 400
    assert list(again.json()["error"]["fields"]) == ["renewal_date"]
    too_many = mine.post(
        "/api/v1/accounts/acme/outcomes/",
        {"kind": "renewed", "reasons": ["price", "budget_cut", "competitor", "acquired"]},
        format="json",
    )
    assert too_many.json()["error"]["fields"]["reasons"] == ["At most 3 reasons (4 given)."]
    for path in ("/api/v1/accounts/cobalt/outcomes/", "/api/v1/accounts/borealis/outcomes/"):
        assert mine.get(path).status_code == 404
        assert mine.post(path, {"kind": "renewed"}, format="json").status_code == 404
    read_only = api_as("accounts:read", user=alice)
    assert read_only.post("/api/v1/accounts/acme/outcomes/", {"kind": "renewed"}).status_code == 403


def test_the_api_lists_renewals_in_the_tokens_reach_by_cursor(api_as, soon, maggie, alice):
    manager = api_as("accounts:read", user=maggie)
    listed = manager.get("/api/v1/renewals/?within=60").json()
    assert [(r["external_id"], r["passed"]) for r in listed["results"]] == [
        ("borealis", True), ("acme", False),
    ]  # fmt: skip
    assert manager.get("/api/v1/renewals/?within=60&owner=alice").json()["results"][0]["name"] == (
        "Acme Analytics"
    )
    paged = manager.get("/api/v1/renewals/?within=60&page_size=1").json()
    assert [r["external_id"] for r in paged["results"]] == ["borealis"]
    following = manager.get(paged["next"]).json()
    assert [r["external_id"] for r in following["results"]] == ["acme"]
    everything = api_as("accounts:read").get("/api/v1/renewals/?within=300").json()
    assert len(everything["results"]) == 4
    assert api_as("accounts:read").get("/api/v1/renewals/?within=0").status_code == 400
    assert api_as("tasks:read").get("/api/v1/renewals/").status_code == 403


def test_the_api_lists_the_reasons_and_the_retention_figures(api_as, soon):
    client = api_as("accounts:read")
    reasons = client.get("/api/v1/renewal-reasons/").json()
    assert reasons[0] == {"code": "price", "name": "Price", "applies_to": "loss", "active": True,
                          "order": 10}  # fmt: skip
    today = timezone.localdate()
    figures = client.get(
        f"/api/v1/retention/?start={today - dt.timedelta(days=365)}&end={today}&by=segment"
    )
    assert figures.status_code == 200, figures.json()
    assert set(figures.json()) == {"start", "end", "by", "total", "rows", "lost_by_reason"}
    bad = client.get(f"/api/v1/retention/?start={today}&end={today}")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["end"]
