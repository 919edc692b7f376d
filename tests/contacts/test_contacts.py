"""Contacts: the rules of the one write path (an email once per account in any letter
case, one primary, a role from the list, all or nothing for a list), the account page's
card as each role sees it (own / team / other → 404), the API and search."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ContactRole
from contacts.services import ContactInvalid, contact_mark_left, contact_save, contacts_upsert
from playbooks.models import Task
from workspace.search import search_everywhere

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def add(account, name, email, **fields) -> Contact:
    return contact_save(
        account=account, fields={"name": name, "email": email, **fields}, now=timezone.now()
    )


# --- The write path ------------------------------------------------------------------------------


def test_the_default_roles_are_there_to_choose_from(db):
    assert list(ContactRole.objects.values_list("key", flat=True)) == [
        "champion", "decision_maker", "executive_sponsor", "user", "admin", "billing",
    ]  # fmt: skip


def test_an_email_is_once_per_account_in_any_case_and_primary_is_one(book):
    acme, borealis = book["alice"], book["bob"]
    dana = add(acme, "Dana Reyes", " Dana@Acme.example ", role="champion", is_primary=True)
    assert (dana.email, dana.role.key, dana.is_primary) == ("dana@acme.example", "champion", True)
    add(borealis, "Dana elsewhere", "dana@acme.example")  # another account: fine
    with pytest.raises(ContactInvalid) as refused:
        add(acme, "Dana again", "DANA@acme.example")
    assert refused.value.fields == {
        "email": ["Acme Analytics already has a contact with dana@acme.example."]
    }
    lee = add(acme, "Lee", "lee@acme.example", is_primary=True)
    dana.refresh_from_db()
    assert (lee.is_primary, dana.is_primary) == (True, False)  # the primary place moved
    with pytest.raises(IntegrityError):  # and the database holds it so
        Contact.objects.filter(pk=dana.pk).update(is_primary=True)


def test_bad_input_names_each_field_and_saves_nothing(book):
    with pytest.raises(ContactInvalid) as refused:
        add(book["alice"], " ", "not-an-email", role="guru", title="x" * 201)
    assert set(refused.value.fields) == {"name", "email", "role", "title"}
    assert "'guru' is not a contact role (one of: champion" in refused.value.fields["role"][0]
    assert not Contact.objects.exists()


def test_a_list_is_upserted_by_email_all_or_nothing(book):
    acme = book["alice"]
    add(acme, "Dana", "dana@acme.example", title="VP")
    now = timezone.now()
    _, created, updated = contacts_upsert(
        account=acme,
        rows=[
            {
                "name": "Dana Reyes",
                "email": "DANA@acme.example",
                "title": "COO",
                "is_primary": True,
            },
            {"name": "Pat", "email": "pat@acme.example", "role": "billing"},
        ],
        now=now,
    )
    assert (created, updated) == (1, 1)
    assert sorted(Contact.objects.values_list("name", "title", "is_primary")) == [
        ("Dana Reyes", "COO", True), ("Pat", "", False),
    ]  # fmt: skip
    with pytest.raises(ContactInvalid) as refused:
        contacts_upsert(
            account=acme,
            rows=[
                {"name": "New", "email": "new@acme.example", "is_primary": True},
                {"name": "Twice", "email": "NEW@acme.example", "is_primary": True},
                {"name": "", "email": "x@acme.example"},
            ],
            now=now,
        )
    assert refused.value.fields == {
        "1": {"email": ["Given twice: also in row 0."],
              "is_primary": ["Only one contact is primary; row 0 is already."]},
        "2": {"name": ["Give the contact's name."]},
    }  # fmt: skip
    assert Contact.objects.count() == 2  # nothing of the refused list


def test_a_contact_who_left_is_kept_and_is_no_longer_primary(book):
    dana = add(book["alice"], "Dana", "dana@acme.example", is_primary=True)
    left = contact_mark_left(contact=dana, on=timezone.localdate(), now=timezone.now())
    assert (left.status, left.left_at, left.is_primary) == ("left", timezone.localdate(), False)


# --- The account page's card ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "owner", "sees", "changes"),
    [
        ("alice", "alice", 200, 200),
        ("alice", "bob", 404, 404),
        ("maggie", "bob", 200, 200),
        ("maggie", "charlie", 404, 404),
        ("ada", "charlie", 200, 200),
    ],
)
def test_who_sees_and_changes_an_accounts_contacts(
    request, client_as, book, actor, owner, sees, changes
):
    account = book[owner]
    add(account, "Dana", "dana@example.com")
    client = client_as(request.getfixturevalue(actor))
    url = reverse("contacts:account", args=[account.pk])
    response = client.get(url, **HTMX)
    assert response.status_code == sees
    assert (b"dana@example.com" in response.content) == (sees == 200)
    posted = client.post(url, {"name": "Pat", "email": "pat@example.com"}, **HTMX)
    assert posted.status_code == changes
    assert Contact.objects.filter(email="pat@example.com").exists() == (changes == 200)


def test_work_given_shows_the_contacts_but_not_the_forms(client_as, alice, bob, book):
    account = book["alice"]
    dana = add(account, "Dana", "dana@example.com")
    Task.objects.create(account=account, title="Cover", assignee=bob, due_date=timezone.localdate())
    client = client_as(bob)
    card = client.get(reverse("contacts:account", args=[account.pk]), **HTMX).content.decode()
    assert "dana@example.com" in card and 'id="new-contact"' not in card
    assert (
        client.post(
            reverse("contacts:account", args=[account.pk]), {"name": "X", "email": "x@example.com"}
        ).status_code
        == 404
    )
    assert client.post(reverse("contacts:left", args=[dana.pk])).status_code == 404


def test_the_card_adds_makes_primary_and_marks_left_in_place(client_as, alice, book):
    account = book["alice"]
    client = client_as(alice)
    url = reverse("contacts:account", args=[account.pk])
    html = client.post(
        url,
        {
            "name": "Dana",
            "email": "DANA@example.com",
            "role": ContactRole.objects.get(key="champion").pk,
        },
        **HTMX,
    ).content.decode()
    assert "Added Dana." in html and "dana@example.com" in html and "Champion" in html
    bad = client.post(url, {"name": "Again", "email": "dana@example.com"}, **HTMX).content.decode()
    assert "Acme Analytics already has a contact with dana@example.com." in bad
    dana = Contact.objects.get()
    html = client.post(reverse("contacts:primary", args=[dana.pk]), **HTMX).content.decode()
    assert "Dana is the primary contact." in html
    html = client.post(reverse("contacts:left", args=[dana.pk]), **HTMX).content.decode()
    assert "Dana has left Acme Analytics." in html and " · left " in html
    # Without JavaScript: the page links to the card, which is a page of its own.
    page = client.get(account.get_absolute_url()).content.decode()
    assert f'href="{url}"' in page
    assert "<html" in client.get(url).content.decode()


def test_a_contact_is_edited_in_place_and_a_bad_change_saves_nothing(
    client_as, alice, bob, maggie, book
):
    account = book["alice"]
    dana = add(account, "Dana", "dana@example.com", is_primary=True)
    add(account, "Eli", "eli@example.com")
    client = client_as(alice)
    url = reverse("contacts:edit", args=[dana.pk])
    form = client.get(url, **HTMX).content.decode()
    assert 'id="edit-contact"' in form and 'value="dana@example.com"' in form
    assert f'name="contact-{dana.pk}-is_primary"' in form and "checked" in form
    prefix = f"contact-{dana.pk}-"
    change = {prefix + "name": "Dana Scully", prefix + "email": "dana.s@example.com",
              prefix + "title": "VP Ops", prefix + "role": ContactRole.objects.get(key="champion").pk,
              prefix + "is_primary": "on"}  # fmt: skip
    html = client.post(url, change, **HTMX).content.decode()
    assert "Saved Dana Scully." in html and "VP Ops" in html and 'id="edit-contact"' not in html
    dana.refresh_from_db()
    assert (dana.name, dana.email, dana.role.key, dana.is_primary) == (
        "Dana Scully", "dana.s@example.com", "champion", True,
    )  # fmt: skip
    bad = client.post(url, {**change, prefix + "email": "ELI@example.com"}, **HTMX).content.decode()
    assert "Acme Analytics already has a contact with eli@example.com." in bad
    assert 'id="edit-contact"' in bad  # the form again, with what was wrong
    dana.refresh_from_db()
    assert dana.email == "dana.s@example.com"
    # Without JavaScript: the form is a page, a good change goes back to the account.
    assert "<html" in client.get(url).content.decode()
    assert client.post(url, {**change, prefix + "title": "COO"}).status_code == 302
    assert client.post(url, {**change, prefix + "email": "not an email"}).status_code == 400
    # Who does not hold the account in their book gets 404, and nothing changes.
    assert client_as(bob).get(url).status_code == 404
    assert client_as(bob).post(url, change).status_code == 404
    assert client_as(maggie).get(url, **HTMX).status_code == 200  # her team's account


# --- The API --------------------------------------------------------------------------------------


def test_the_api_lists_and_upserts_contacts_in_the_tokens_reach(api_as, book, alice):
    add(book["alice"], "Dana", "dana@example.com", role="champion")
    mine = api_as("accounts:read", "accounts:write", user=alice)
    listed = mine.get("/api/v1/accounts/acme/contacts/").json()
    assert [(c["email"], c["role"]) for c in listed] == [("dana@example.com", "champion")]
    response = mine.post(
        "/api/v1/accounts/acme/contacts/",
        {"contacts": [{"name": "Dana R", "email": "dana@example.com", "is_primary": True},
                      {"name": "Pat", "email": "pat@example.com", "role": "billing"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    assert (response.json()["created"], response.json()["updated"]) == (1, 1)
    bad = mine.post(
        "/api/v1/accounts/acme/contacts/",
        {"contacts": [{"name": "Q", "email": "q@example.com", "role": "guru"}]},
        format="json",
    )
    assert bad.status_code == 400
    assert list(bad.json()["error"]["fields"]["contacts"]["0"]) == ["role"]
    # Another team's account: 404, as a missing one.
    for path in ("/api/v1/accounts/cobalt/contacts/", "/api/v1/accounts/nowhere/contacts/"):
        assert mine.get(path).status_code == 404
    assert (
        api_as("accounts:read", user=alice)
        .post("/api/v1/accounts/acme/contacts/", {"contacts": []}, format="json")
        .status_code
        == 403
    )


# --- Search ---------------------------------------------------------------------------------------


def test_search_finds_contacts_in_scope(book, alice, maggie):
    add(book["alice"], "Dana Reyes", "dana@acme.example")
    add(book["charlie"], "Dana Other", "dana@cobalt.example")
    assert [c.name for c in search_everywhere(user=alice, text="dana").contacts] == ["Dana Reyes"]
    assert [c.name for c in search_everywhere(user=alice, text="acme.example").contacts] == [
        "Dana Reyes"
    ]
    assert search_everywhere(user=maggie, text="cobalt").contacts == []


# --- Playbooks address them -------------------------------------------------------------------


def test_an_email_step_goes_to_the_primary_contact_or_a_role_and_texts_name_them(book):
    from playbooks.models import PlaybookStep
    from playbooks.services.common import StepError
    from playbooks.services.steps import email_recipient_resolve

    acme = book["alice"]
    step = PlaybookStep(kind="send_email", email_to="primary_contact")
    with pytest.raises(StepError, match="Acme Analytics has no primary contact to email"):
        email_recipient_resolve(step=step, account=acme)
    add(acme, "Dana", "dana@acme.example", role="champion")
    add(acme, "Pat", "pat@acme.example", role="billing", is_primary=True)
    assert email_recipient_resolve(step=step, account=acme) == "pat@acme.example"
    billing = PlaybookStep(
        kind="send_email", email_to="contact_role",
        email_contact_role=ContactRole.objects.get(key="champion"),
    )  # fmt: skip
    assert email_recipient_resolve(step=billing, account=acme) == "dana@acme.example"
    contact_mark_left(
        contact=Contact.objects.get(email="dana@acme.example"),
        on=timezone.localdate(),
        now=timezone.now(),
    )
    with pytest.raises(StepError, match="has no contact who is Champion to email"):
        email_recipient_resolve(step=billing, account=acme)
    missing_role = PlaybookStep(
        kind="send_email", email_to="contact_role", email_subject="s", email_body="b"
    )
    assert "email_contact_role" in missing_role.errors()


def test_step_texts_name_the_primary_contact(book):
    from playbooks.models import PlaybookRun
    from playbooks.services.steps import render_text, step_context
    from tests.playbooks.builders import make_playbook

    acme = book["alice"]
    run = PlaybookRun(playbook=make_playbook("Call"), account=acme, context={})
    assert render_text("Call {contact} at {account}", step_context(run=run, account=acme)) == (
        "Call the main contact at Acme Analytics"
    )
    add(acme, "Dana Reyes", "dana@acme.example", is_primary=True)
    assert render_text("Call {contact}", step_context(run=run, account=acme)) == "Call Dana Reyes"


def test_a_champion_leaving_fires_a_playbook_once(book, alice):
    from playbooks.models import PlaybookRun
    from playbooks.services import playbook_save, state_triggers_evaluate, step_runs_due_execute
    from tests.playbooks.builders import task_step

    now = timezone.now()
    champion = ContactRole.objects.get(key="champion")
    playbook = playbook_save(
        playbook=None,
        fields={"name": "Champion left", "trigger": "contact_left", "contact_role": champion,
                "cooldown_days": 0, "is_active": True},
        steps=[task_step("Find a new champion at {account}")],
        now=now - dt.timedelta(days=1),
    )  # fmt: skip
    dana = add(book["alice"], "Dana", "dana@acme.example", role="champion", is_primary=True)
    add(book["alice"], "Pat", "pat@acme.example", role="billing")
    state_triggers_evaluate(now=now, dispatch=False)
    assert not PlaybookRun.objects.exists()  # nobody left yet

    contact_mark_left(
        contact=Contact.objects.get(email="pat@acme.example"), on=timezone.localdate(), now=now
    )
    contact_mark_left(contact=dana, on=timezone.localdate(), now=now)
    for _ in range(2):  # the periodic check, twice
        state_triggers_evaluate(now=now + dt.timedelta(minutes=1), dispatch=False)
    [run] = PlaybookRun.objects.all()
    assert (run.playbook, run.account, run.event_key) == (
        playbook,
        book["alice"],
        f"contact_left:{dana.pk}",
    )
    step_runs_due_execute(now=now + dt.timedelta(minutes=2))
    assert Task.objects.get().title == "Find a new champion at Acme Analytics"


def test_a_contact_left_playbook_needs_its_role(db):
    from playbooks.models import Playbook

    playbook = Playbook(name="x", trigger="contact_left")
    with pytest.raises(Exception) as refused:
        playbook.clean()
    assert "contact_role" in refused.value.message_dict
