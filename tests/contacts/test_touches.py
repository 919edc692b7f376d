"""Touches: the one write path (a kind, a time not ahead of now, the account's own contacts,
nothing written when anything is wrong), the account's last touch kept through logging,
back-dating and deleting, the card as each role sees it (own / team / other → 404), the
API, the timeline, the built-in roll-ups through a real recompute, and work on next."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from contacts.models import Touch
from contacts.services import TouchInvalid, contact_save, touch_delete, touch_log
from playbooks.models import Task
from playbooks.selectors import account_timeline
from scoring.models import AccountHealth, Signal
from scoring.services import scoring_run_create, scoring_run_execute
from tests.scoring.builders import make_model
from workspace.ranking import work_on_next

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def person(account, name, email, role=None):
    return contact_save(
        account=account,
        fields={"name": name, "email": email, "role": role},
        now=timezone.now(),
    )


def log(account, *, ago_days: float = 0, kind="call", by=None, **fields) -> Touch:
    now = timezone.now()
    return touch_log(
        account=account,
        kind=kind,
        at=now - dt.timedelta(days=ago_days),
        by=by,
        now=now,
        **fields,
    )


def last_touch(account) -> dt.datetime | None:
    return Account.objects.get(pk=account.pk).last_touch_at


# --- The write path ------------------------------------------------------------------------------


def test_a_touch_with_the_accounts_contacts_is_two_signals_and_the_last_touch(book, alice):
    acme = book["alice"]
    dana = person(acme, "Dana Reyes", "dana@acme.example", role="champion")
    touch = log(acme, kind="meeting", by=alice, contact_emails=["DANA@acme.example"], note=" Hi ")
    assert list(touch.contacts.all()) == [dana] and touch.note == "Hi"
    signals = Signal.objects.filter(account=acme).order_by("metric__key")
    assert [(s.metric.key, s.value, s.timestamp, s.source, s.client_id) for s in signals] == [
        ("days_since_touch", 1.0, touch.at, "vitals", f"touch:{touch.pk}:days_since_touch"),
        ("touches_30d", 1.0, touch.at, "vitals", f"touch:{touch.pk}:touches_30d"),
    ]
    assert last_touch(acme) == touch.at


def test_bad_input_names_each_field_and_writes_nothing(book):
    acme, borealis = book["alice"], book["bob"]
    theirs = person(borealis, "Pat", "pat@borealis.example")
    now = timezone.now()
    with pytest.raises(TouchInvalid) as refused:
        touch_log(
            account=acme,
            kind="fax",
            at=now + dt.timedelta(hours=1),
            note="x" * 10_001,
            contact_ids=[theirs.pk],
            contact_emails=["nobody@acme.example"],
            by=None,
            now=now,
        )
    fields = refused.value.fields
    assert set(fields) == {"kind", "at", "note", "contacts"}
    assert "'fax' is not a kind of touch" in fields["kind"][0]
    assert "is in the future" in fields["at"][0]
    assert fields["contacts"] == [
        f"Contact #{theirs.pk} is not a contact of Acme Analytics.",
        "'nobody@acme.example' is not a contact of Acme Analytics.",
    ]
    assert not Touch.objects.exists() and not Signal.objects.exists()
    assert last_touch(acme) is None
    # A few minutes ahead is a clock's difference, not the future.
    log(acme, ago_days=-3 / 1440)


def test_a_back_dated_touch_leaves_the_last_touch_and_deleting_puts_it_back(book):
    acme = book["alice"]
    recent = log(acme, ago_days=2)
    older = log(acme, ago_days=20)  # logged after, happened before
    assert last_touch(acme) == recent.at
    touch_delete(touch=recent)
    assert last_touch(acme) == older.at
    assert set(Signal.objects.values_list("client_id", flat=True)) == {
        f"touch:{older.pk}:days_since_touch",
        f"touch:{older.pk}:touches_30d",
    }
    touch_delete(touch=older)
    assert last_touch(acme) is None and not Signal.objects.exists()


# --- The account page ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "owner", "status"),
    [
        ("alice", "alice", 200),
        ("alice", "bob", 404),
        ("maggie", "bob", 200),
        ("maggie", "charlie", 404),
        ("ada", "charlie", 200),
    ],
)
def test_who_sees_logs_and_deletes_an_accounts_touches(
    request, client_as, book, actor, owner, status
):
    account = book[owner]
    touch = log(account, ago_days=1, note="Kick-off")
    client = client_as(request.getfixturevalue(actor))
    url = reverse("contacts:touches", args=[account.pk])
    seen = client.get(url, **HTMX)
    assert seen.status_code == status
    assert (b"Kick-off" in seen.content) == (status == 200)
    posted = client.post(url, {"kind": "email", "at": "2026-01-05T10:00"}, **HTMX)
    assert posted.status_code == status
    assert Touch.objects.filter(kind="email").exists() == (status == 200)
    deleted = client.post(reverse("contacts:touch_delete", args=[touch.pk]), **HTMX)
    assert deleted.status_code == status
    assert Touch.objects.filter(pk=touch.pk).exists() == (status != 200)


def test_work_given_shows_the_touches_but_not_the_form(client_as, bob, book):
    acme = book["alice"]
    log(acme, note="Kick-off")
    Task.objects.create(account=acme, title="Cover", assignee=bob, due_date=timezone.localdate())
    client = client_as(bob)
    url = reverse("contacts:touches", args=[acme.pk])
    card = client.get(url, **HTMX).content.decode()
    assert "Kick-off" in card and 'id="new-touch"' not in card
    assert client.post(url, {"kind": "call", "at": "2026-01-05T10:00"}).status_code == 404


def test_the_card_logs_a_touch_in_place_with_the_timeline_and_the_header(client_as, alice, book):
    acme = book["alice"]
    dana = person(acme, "Dana Reyes", "dana@acme.example", role="champion")
    gone = person(acme, "Lee Berg", "lee@acme.example")
    client = client_as(alice)
    url = reverse("contacts:touches", args=[acme.pk])
    form = client.get(url, **HTMX).content.decode()
    assert f'value="{dana.pk}"' in form and 'type="datetime-local"' in form
    contact_mark_left_today(gone)
    assert f'value="{gone.pk}"' not in client.get(url, **HTMX).content.decode()

    when = timezone.localtime() - dt.timedelta(days=3)
    html = client.post(
        url,
        {"kind": "qbr", "at": when.strftime("%Y-%m-%dT%H:%M"), "contacts": [dana.pk],
         "note": "Renewal looks safe"},
        **HTMX,
    ).content.decode()  # fmt: skip
    assert "QBR logged." in html and "QBR with Dana Reyes (Champion)" in html
    # The timeline and the header's last touch come along, out of band.
    assert 'id="timeline" hx-swap-oob="true"' in html and "Renewal looks safe" in html
    assert 'id="last-touch" hx-swap-oob="true"' in html and "Last touch: 3 days ago" in html
    touch = Touch.objects.get()
    assert touch.by == alice and list(touch.contacts.all()) == [dana]

    future = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    bad = client.post(url, {"kind": "call", "at": future}, **HTMX).content.decode()
    assert "is in the future" in bad and Touch.objects.count() == 1
    assert "hx-swap-oob" not in bad
    deleted = client.post(
        reverse("contacts:touch_delete", args=[touch.pk]), **HTMX
    ).content.decode()
    assert "Touch deleted." in deleted and "Last touch: never" in deleted
    assert "QBR with Dana Reyes" not in deleted  # gone from the card and the timeline


def contact_mark_left_today(contact):
    from contacts.services import contact_mark_left

    now = timezone.now()
    contact_mark_left(contact=contact, on=timezone.localdate(now), now=now)


def test_without_javascript_the_form_posts_and_comes_back_to_the_page(client_as, alice, book):
    acme = book["alice"]
    client = client_as(alice)
    url = reverse("contacts:touches", args=[acme.pk])
    page = client.get(acme.get_absolute_url()).content.decode()
    assert f'href="{url}"' in page and "Last touch: never" in page
    assert "<html" in client.get(url).content.decode()
    when = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"kind": "call", "at": when}, follow=True)
    assert response.redirect_chain[-1][0] == acme.get_absolute_url()
    html = response.content.decode()
    assert "Call logged." in html and "Last touch: today" in html
    touch = Touch.objects.get()
    response = client.post(reverse("contacts:touch_delete", args=[touch.pk]), follow=True)
    assert "Touch deleted." in response.content.decode() and not Touch.objects.exists()
    refused = client.post(url, {"kind": "call", "at": "soon"}, follow=True).content.decode()
    assert "Touch not logged — at:" in refused


def test_the_list_and_the_task_cards_say_when_the_last_touch_was(client_as, alice, book):
    acme = book["alice"]
    log(acme, ago_days=12)
    Task.objects.create(account=acme, title="Call", assignee=alice, due_date=timezone.localdate())
    client = client_as(alice)
    client.get(reverse("accounts:list"))  # the session's first request warms its caches
    with CaptureQueriesContext(connection) as queries:
        listed = client.get(reverse("accounts:list")).content.decode()
    assert "<th>Last touch</th>" in listed and "12 days ago" in listed
    # The account's own column, read with the row: the list never reads the touches.
    assert not [q["sql"] for q in queries.captured_queries if "contacts_touch" in q["sql"]]
    queue = client.get(reverse("playbooks:queue")).content.decode()
    assert "last touch 12 days ago" in queue


# --- The API -------------------------------------------------------------------------------------


def test_the_api_lists_and_logs_touches_in_the_tokens_reach(api_as, book, alice):
    acme = book["alice"]
    person(acme, "Dana Reyes", "dana@acme.example")
    log(acme, ago_days=5, note="Older")
    mine = api_as("accounts:read", "accounts:write", user=alice)
    response = mine.post(
        "/api/v1/accounts/acme/touches/",
        {"touches": [{"kind": "qbr", "at": "2026-01-02T15:00:00Z", "contacts": ["dana@acme.example"],
                      "note": "Safe"}, {"kind": "email"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 2
    assert [(t["kind"], t["contacts"], t["by"]) for t in response.json()["results"]] == [
        ("email", [], alice.username),
        ("qbr", ["dana@acme.example"], alice.username),
    ]
    listed = mine.get("/api/v1/accounts/acme/touches/").json()
    assert [t["note"] for t in listed["results"]] == ["", "Older", "Safe"]  # newest first

    bad = mine.post(
        "/api/v1/accounts/acme/touches/",
        {"touches": [{"kind": "call"}, {"kind": "call", "contacts": ["x@acme.example"]},
                     {"kind": "call", "at": "2099-01-01T00:00:00Z"}]},
        format="json",
    )  # fmt: skip
    assert bad.status_code == 400
    fields = bad.json()["error"]["fields"]["touches"]
    assert {i: list(row) for i, row in fields.items()} == {"1": ["contacts"], "2": ["at"]}
    assert Touch.objects.count() == 3  # all or nothing
    wrong_kind = mine.post(
        "/api/v1/accounts/acme/touches/", {"touches": [{"kind": "fax"}]}, format="json"
    )
    assert wrong_kind.status_code == 400
    # Another team's account: 404, as a missing one; a read token does not write.
    for path in ("/api/v1/accounts/cobalt/touches/", "/api/v1/accounts/nowhere/touches/"):
        assert mine.get(path).status_code == 404
        assert mine.post(path, {"touches": [{"kind": "call"}]}, format="json").status_code == 404
    reader = api_as("accounts:read", user=alice)
    assert reader.get("/api/v1/accounts/acme/touches/").status_code == 200
    posted = reader.post("/api/v1/accounts/acme/touches/", {"touches": [{"kind": "call"}]})
    assert posted.status_code == 403


# --- The timeline, the roll-ups and work on next -------------------------------------------------


def test_a_touch_is_on_the_timeline_with_its_people_and_who_logged_it(book, alice):
    acme = book["alice"]
    dana = person(acme, "Jane Doe", "jane@acme.example", role="champion")
    lee = person(acme, "Lee Berg", "lee@acme.example")
    log(acme, ago_days=1, by=alice, note="Wants SSO", contact_ids=[dana.pk, lee.pk])
    log(acme, ago_days=2, kind="email")
    entries = [e for e in account_timeline(account=acme) if e.kind == "touch"]
    assert [(e.title, e.detail, e.actor) for e in entries] == [
        ("Call with Jane Doe (Champion) and Lee Berg", "Wants SSO", alice),
        ("Email", "", None),
    ]


def test_the_built_in_roll_ups_score_through_a_recompute_and_follow_a_deletion(book):
    acme = book["alice"]
    make_model(
        "touches",
        components=[
            {"metric": key, "rule": "linear", "params": params, "weight": 50}
            for key, params in [
                ("days_since_touch", {"worst": 60, "best": 0}),
                ("touches_30d", {"worst": 0, "best": 4}),
            ]
        ],
        bands=[("At-risk", 0, "at_risk"), ("Healthy", 50, "healthy")],
    )
    now = timezone.now()
    recent = log(acme, ago_days=3)
    log(acme, ago_days=10)
    log(acme, ago_days=45)  # back-dated beyond the window: counts for neither

    def rolled_up(at):
        scoring_run_execute(run=scoring_run_create(as_of=at))
        health = AccountHealth.objects.select_related("health_score").get(account=acme)
        (days, _), (count, _) = health.health_score.breakdown
        return round(days, 3), count

    assert rolled_up(now) == (3.0, 2.0)
    touch_delete(touch=recent)
    assert rolled_up(now + dt.timedelta(seconds=1)) == (10.0, 1.0)


def test_work_on_next_counts_a_logged_touch(book, alice):
    acme = book["alice"]
    now = timezone.now()
    (before,) = work_on_next(user=alice, today=timezone.localdate(now), now=now)
    assert "no touch on record" in before.why
    touch_log(account=acme, kind="call", at=now - dt.timedelta(days=40), by=alice, now=now)
    (after,) = work_on_next(user=alice, today=timezone.localdate(now), now=now)
    assert "no touch for 40 days" in after.why
    assert after.priority < before.priority


def test_admin_logs_and_deletes_through_the_write_path(client_as, ada, book):
    acme, cobalt = book["alice"], book["charlie"]
    theirs = person(cobalt, "Pat", "pat@cobalt.example")
    client = client_as(ada)
    add = reverse("admin:contacts_touch_add")
    fields = {"account": acme.pk, "kind": "meeting", "at_0": "2026-01-05", "at_1": "10:00"}
    refused = client.post(add, {**fields, "contacts": str(theirs.pk)})
    assert refused.status_code == 200 and "is not a contact of Acme Analytics" in refused.text
    assert client.post(add, fields).status_code == 302
    touch = Touch.objects.get()
    assert touch.by == ada and Signal.objects.filter(account=acme).count() == 2
    assert last_touch(acme) == touch.at
    delete = reverse("admin:contacts_touch_delete", args=[touch.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Touch.objects.exists() and not Signal.objects.exists()
    assert last_touch(acme) is None
