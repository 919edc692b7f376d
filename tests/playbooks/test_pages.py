"""The task pages as people use them: my queue (/tasks/) and its in-place actions, the
team page (/team/), the tasks and timeline of the account page, and the home page's
tasks. Out of scope is 404 and changes nothing; htmx gets the fragment, a plain form a
redirect; errors show beside their field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from playbooks.models import Note, Task
from scoring.models import Band
from tests.factories import AccountFactory
from tests.playbooks.builders import score_each

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
QUEUE_URL = "/tasks/"
TEAM_URL = "/team/"


def today() -> dt.date:
    return timezone.localdate()


def add_task(account, title="Call them", due=0, **fields) -> Task:
    fields.setdefault("assignee", account.owner)
    return Task.objects.create(
        account=account, title=title, due_date=today() + dt.timedelta(days=due), **fields
    )


@pytest.fixture
def tasks(book) -> dict[str, Task]:
    """One open task per CSM, on their own account, due today."""
    return {who: add_task(account, f"Call {account.name}") for who, account in book.items()}


def action_url(action: str, task: Task) -> str:
    return reverse(f"playbooks:{action}", args=[task.pk])


def post(client, action, task, data=None, **extra):
    return client.post(action_url(action, task), {"next": QUEUE_URL, **(data or {})}, **extra)


def is_fragment(response) -> bool:
    return b"<html" not in response.content


# --- Who may act on which task -----------------------------------------------------------------

MATRIX = [
    # (actor, whose task, may act)
    ("alice", "alice", True),
    ("alice", "bob", False),  # a team-mate's: not hers
    ("alice", "charlie", False),  # another team's
    ("bob", "alice", False),
    ("maggie", "alice", True),  # her team
    ("maggie", "bob", True),
    ("maggie", "charlie", False),  # Mark's team
    ("mark", "alice", False),
    ("mark", "charlie", True),
    ("ada", "charlie", True),  # admin: everything
]


@pytest.mark.parametrize(("actor", "owner", "allowed"), MATRIX)
@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("complete", {}),
        ("snooze", {"until": "2999-01-01"}),
        ("reassign", {"assignee": "self"}),
        ("task_note", {"body": "Left a voicemail."}),
    ],
)
def test_every_task_action_is_allowed_in_scope_and_404_outside_it(
    request, client_as, tasks, actor, owner, allowed, action, data
):
    user = request.getfixturevalue(actor)
    task = tasks[owner]
    if data.get("assignee") == "self":
        data = {"assignee": user.pk}
    before = Task.objects.values().get(pk=task.pk)

    response = post(client_as(user), action, task, data, **HTMX)

    if not allowed:
        assert response.status_code == 404
        assert Task.objects.values().get(pk=task.pk) == before
        assert not Note.objects.exists()
        return
    assert response.status_code == 200
    assert is_fragment(response)
    assert f'id="task-{task.pk}"' in response.content.decode()
    assert b'class="errorlist"' not in response.content
    task.refresh_from_db()
    if action == "complete":
        assert (task.status, task.completed_by) == ("done", user)
    elif action == "snooze":
        assert (task.status, task.snoozed_until) == ("snoozed", dt.date(2999, 1, 1))
    elif action == "reassign":
        assert task.assignee == user
    else:
        assert Note.objects.get().task == task


def test_a_task_assigned_to_alice_on_an_account_out_of_her_scope_is_hers_to_act_on(
    client_as, book, alice
):
    covering = add_task(book["charlie"], "Cover for Charlie", assignee=alice)
    response = post(client_as(alice), "complete", covering, **HTMX)
    assert response.status_code == 200
    covering.refresh_from_db()
    assert covering.status == "done"


def test_actions_answer_only_posts(client_as, alice, tasks):
    assert client_as(alice).get(action_url("complete", tasks["alice"])).status_code == 405


def test_an_unknown_task_is_404(client_as, alice, tasks):
    response = client_as(alice).post("/tasks/999999/complete/", **HTMX)
    assert response.status_code == 404


def test_the_pages_ask_anonymous_visitors_to_log_in(client, tasks):
    for url in (QUEUE_URL, TEAM_URL, action_url("complete", tasks["alice"])):
        response = client.post(url) if "complete" in url else client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert Task.objects.get(pk=tasks["alice"].pk).status == "open"


# --- Each action: its effect, its fragment, its redirect, its errors ---------------------------


def test_alice_completes_a_task_in_place(client_as, alice, tasks):
    task = tasks["alice"]
    response = post(client_as(alice), "complete", task, **HTMX)
    html = response.content.decode()
    assert is_fragment(response)
    assert html.lstrip().startswith('<article class="task task-done')
    assert "Done: Call Acme Analytics." in html
    assert 'data-action="complete"' not in html  # a done task offers no more actions
    task.refresh_from_db()
    assert task.status == "done" and task.completed_by == alice and task.completed_at


def test_without_htmx_an_action_redirects_back_to_the_page_it_came_from(client_as, alice, tasks):
    task = tasks["alice"]
    client = client_as(alice)
    response = client.post(action_url("complete", task), {"next": task.account.get_absolute_url()})
    assert response.status_code == 302
    assert response["Location"] == task.account.get_absolute_url()
    page = client.get(response["Location"])
    assert "Done: Call Acme Analytics." in page.content.decode()


def test_a_redirect_never_leaves_the_site(client_as, alice, tasks):
    response = client_as(alice).post(
        action_url("complete", tasks["alice"]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == QUEUE_URL


def test_snoozing_to_today_or_earlier_is_refused_beside_the_date(client_as, alice, tasks):
    task = tasks["alice"]
    for until in (today(), today() - dt.timedelta(days=3)):
        response = post(client_as(alice), "snooze", task, {"until": until.isoformat()}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200 and is_fragment(response)
        assert "Snooze until a day after today" in html
        assert f'value="{until.isoformat()}"' in html  # what she typed stays
    response = post(client_as(alice), "snooze", task, {"until": "next week"}, **HTMX)
    assert "Enter a valid date." in response.content.decode()
    task.refresh_from_db()
    assert task.status == "open" and task.snoozed_until is None


def test_alice_snoozes_a_task_until_friday(client_as, alice, tasks):
    task = tasks["alice"]
    until = today() + dt.timedelta(days=4)
    response = post(client_as(alice), "snooze", task, {"until": until.isoformat()}, **HTMX)
    assert f"Snoozed until {until:%d %b %Y}." in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.snoozed_until) == ("snoozed", until)


def test_a_refused_action_without_htmx_redirects_with_the_reason(client_as, alice, tasks):
    client = client_as(alice)
    response = client.post(
        action_url("snooze", tasks["alice"]), {"until": today().isoformat(), "next": QUEUE_URL}
    )
    assert response.status_code == 302
    page = client.get(QUEUE_URL).content.decode()
    assert "Call Acme Analytics: Snooze until a day after today" in page


def test_a_closed_task_cannot_be_snoozed_and_says_so(client_as, alice, tasks):
    task = tasks["alice"]
    Task.objects.filter(pk=task.pk).update(status="cancelled")
    until = (today() + dt.timedelta(days=2)).isoformat()
    response = post(client_as(alice), "snooze", task, {"until": until}, **HTMX)
    assert "This task is cancelled; it cannot be snoozed." in response.content.decode()
    assert Task.objects.get(pk=task.pk).status == "cancelled"


def test_a_csm_hands_a_task_to_a_team_mate_or_her_manager_only(
    client_as, alice, bob, charlie, maggie, tasks
):
    task = tasks["alice"]
    client = client_as(alice)
    response = post(client, "reassign", task, {"assignee": charlie.pk}, **HTMX)
    assert "that person is not one of them" in response.content.decode()
    assert Task.objects.get(pk=task.pk).assignee == alice

    response = post(client, "reassign", task, {"assignee": bob.pk}, **HTMX)
    assert "Given to Bob." in response.content.decode()
    assert Task.objects.get(pk=task.pk).assignee == bob

    post(client, "reassign", task, {"assignee": maggie.pk}, **HTMX)
    assert Task.objects.get(pk=task.pk).assignee == maggie


def test_a_manager_hands_tasks_within_her_teams(client_as, maggie, alice, bob, charlie, tasks):
    client = client_as(maggie)
    response = post(client, "reassign", tasks["bob"], {"assignee": charlie.pk}, **HTMX)
    assert "that person is not one of them" in response.content.decode()
    post(client, "reassign", tasks["bob"], {"assignee": alice.pk}, **HTMX)
    assert Task.objects.get(pk=tasks["bob"].pk).assignee == alice


def test_the_reassign_choices_are_the_people_in_reach(client_as, alice, charlie, ada, tasks):
    html = client_as(charlie).get(QUEUE_URL).content.decode()
    assert ">Charlie</option>" in html and ">Mark</option>" in html
    assert ">Alice</option>" not in html and ">Maggie</option>" not in html
    html = client_as(alice).get(QUEUE_URL).content.decode()
    for name in ("Alice", "Bob", "Maggie"):
        assert f">{name}</option>" in html
    assert ">Charlie</option>" not in html


def test_a_note_on_a_task_is_kept_and_an_empty_one_refused(client_as, alice, tasks):
    task = tasks["alice"]
    client = client_as(alice)
    response = post(client, "task_note", task, {"body": "   "}, **HTMX)
    assert "Write something in the note." in response.content.decode()
    assert not Note.objects.exists()
    response = post(client, "task_note", task, {"body": "Asked for a call Monday."}, **HTMX)
    assert "Note added." in response.content.decode()
    note = Note.objects.get()
    assert (note.account, note.task, note.author, note.body) == (
        task.account,
        task,
        alice,
        "Asked for a call Monday.",
    )


# --- My queue ----------------------------------------------------------------------------------


def test_alices_queue_has_four_sections_with_counts(client_as, alice, bob, book):
    acme = book["alice"]
    add_task(acme, "Late call", -2)
    add_task(acme, "Today's call", 0, priority="urgent")
    add_task(acme, "Next week", 7)
    add_task(acme, "Snoozed", -1, status="snoozed", snoozed_until=today() + dt.timedelta(3))
    add_task(acme, "Done", -1, status="done")
    add_task(book["bob"], "Bob's call", 0)

    response = client_as(alice).get(QUEUE_URL)
    html = response.content.decode()
    queue = response.context["queue"]
    assert [t.title for t in queue.overdue] == ["Late call"]
    assert [t.title for t in queue.today] == ["Today's call"]
    assert [t.title for t in queue.upcoming] == ["Next week"]
    assert [t.title for t in queue.snoozed] == ["Snoozed"]
    for key in ("overdue", "today", "upcoming", "snoozed"):
        assert f'<span class="count-pill" id="count-{key}">1</span>' in html
    assert "Bob&#x27;s call" not in html and "Bob's call" not in html
    assert "Done" not in [t.title for t in queue.today + queue.overdue]
    assert acme.get_absolute_url() in html
    assert "Urgent" in html


def test_the_queue_shows_the_playbook_a_task_came_from(client_as, alice, book):
    from playbooks.models import PlaybookRun, PlaybookStepRun
    from tests.playbooks.builders import make_playbook, usage_model

    usage_model()
    playbook = make_playbook("Rescue")
    run = PlaybookRun.objects.create(playbook=playbook, account=book["alice"], event_key="t:1")
    step_run = PlaybookStepRun.objects.create(
        run=run, step=playbook.steps.get(), due_at=timezone.now()
    )
    add_task(book["alice"], "From a playbook", origin_step_run=step_run)
    html = client_as(alice).get(QUEUE_URL).content.decode()
    assert "from playbook “Rescue”" in html


def test_the_queue_does_not_query_per_task(
    client_as, alice, bob, book, django_assert_max_num_queries
):
    client = client_as(alice)
    # One in each section, so that each section's query is there from the start.
    add_task(book["alice"], "Late", -1)
    add_task(book["alice"], "One", 0)
    add_task(book["alice"], "Later", 1)
    add_task(book["alice"], "Asleep", 0, status="snoozed", snoozed_until=today() + dt.timedelta(2))

    def count() -> int:
        with django_assert_max_num_queries(11) as captured:
            assert client.get(QUEUE_URL).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for n in range(15):
        add_task(AccountFactory(owner=alice), f"Task {n}", n - 5, priority="high")
    assert count() == few


# --- The team page -----------------------------------------------------------------------------


@pytest.fixture
def scored_book(book, usage):
    """Acme (Alice) At-risk, Borealis (Bob) Healthy, Cobalt (Charlie) Neutral, and one of
    Alice's accounts not scored."""
    Band.objects.filter(name="At-risk").update(level="at_risk")
    book["alice"].arr = 120_000
    book["alice"].save(update_fields=["arr"])
    score_each(
        {book["alice"]: 4, book["bob"]: 18, book["charlie"]: 12},
        at=timezone.now() - dt.timedelta(minutes=5),
    )
    AccountFactory(owner=book["alice"].owner, name="Unscored Inc")
    return book


@pytest.mark.parametrize("who", ["alice", "bob", "charlie"])
def test_csms_have_no_team_page(request, client_as, book, who):
    user = request.getfixturevalue(who)
    assert client_as(user).get(TEAM_URL).status_code == 404
    assert b'href="/team/"' not in client_as(user).get("/").content


def test_maggie_sees_her_team_per_csm(client_as, maggie, alice, bob, scored_book):
    add_task(scored_book["alice"], "Late", -3)
    add_task(scored_book["alice"], "Today", 0)
    add_task(scored_book["bob"], "Later", 5)
    response = client_as(maggie).get(TEAM_URL)
    assert response.status_code == 200
    overview = response.context["overview"]
    assert [team.name for team, _ in overview.teams] == ["Enterprise"]
    names = [label for _, label in overview.levels]
    assert names == ["Healthy", "Neutral", "At risk", "Critical"]
    rows = {row.user.username: row for row in overview.teams[0][1]}
    assert set(rows) == {"alice", "bob"}
    assert dict(zip(names, rows["alice"].levels, strict=True)) == {
        "Healthy": 0,
        "Neutral": 0,
        "At risk": 1,
        "Critical": 0,
    }
    assert rows["alice"].unscored == 1 and rows["alice"].accounts == 2
    assert rows["alice"].arr_at_risk == 120_000
    assert (rows["alice"].open_tasks, rows["alice"].overdue_tasks) == (2, 1)
    assert rows["bob"].levels == [1, 0, 0, 0]
    assert (rows["bob"].arr_at_risk, rows["bob"].open_tasks, rows["bob"].overdue_tasks) == (
        0,
        1,
        0,
    )
    html = response.content.decode()
    assert "120,000" in html and "Charlie" not in html
    assert b'href="/team/"' in client_as(maggie).get("/").content


def test_an_admin_sees_every_team(client_as, ada, scored_book):
    overview = client_as(ada).get(TEAM_URL).context["overview"]
    assert [team.name for team, _ in overview.teams] == ["Enterprise", "SMB"]
    smb = {row.user.username: row for row in overview.teams[1][1]}
    levels = dict(zip([level for level, _ in overview.levels], smb["charlie"].levels, strict=True))
    assert levels["neutral"] == 1


def test_the_team_page_does_not_query_per_csm_or_account(
    client_as, maggie, alice, bob, scored_book, django_assert_max_num_queries
):
    from accounts.models import Team
    from tests.factories import UserFactory

    client = client_as(maggie)

    def count() -> int:
        # 15 with its retention card (the cohort per CSM, the lost ARR by reason).
        with django_assert_max_num_queries(15) as captured:
            assert client.get(TEAM_URL).status_code == 200
        return len(captured.captured_queries)

    few = count()
    team = Team.objects.get(name="Enterprise")
    for n in range(6):
        csm = UserFactory(username=f"csm{n}")
        team.members.add(csm)
        for account in AccountFactory.create_batch(3, owner=csm):
            add_task(account, "Call", -1)
    assert count() == few


# --- The account page --------------------------------------------------------------------------


def test_the_account_page_shows_its_tasks_with_actions_and_its_timeline(
    client_as, alice, tasks, book
):
    acme = book["alice"]
    response = client_as(alice).get(acme.get_absolute_url())
    html = response.content.decode()
    assert f'id="task-{tasks["alice"].pk}"' in html
    assert action_url("complete", tasks["alice"]) in html
    assert 'id="health"' in html  # the health panel stays
    # The timeline is loaded after the page (its link, without JavaScript).
    timeline_url = reverse("playbooks:account_timeline", args=[acme.pk])
    assert f'id="timeline" hx-get="{timeline_url}"' in html
    timeline = client_as(alice).get(timeline_url, **HTMX)
    assert (
        is_fragment(timeline) and "Task created: Call Acme Analytics" in timeline.content.decode()
    )
    page = client_as(alice).get(timeline_url).content.decode()
    assert "<html" in page and "Task created: Call Acme Analytics" in page


def test_the_account_page_does_not_query_per_task_note_or_sentiment(
    client_as, alice, book, django_assert_max_num_queries
):
    from scoring.models import CsmSentiment

    acme = book["alice"]
    client = client_as(alice)

    def count() -> int:
        # The page and its timeline card, each within the page budget.
        total = 0
        for url, headers in [
            (acme.get_absolute_url(), {}),
            (reverse("playbooks:account_timeline", args=[acme.pk]), HTMX),
        ]:
            with django_assert_max_num_queries(15) as captured:
                assert client.get(url, **headers).status_code == 200
            total += len(captured.captured_queries)
        return total

    add_task(acme, "First")
    few = count()
    for n in range(8):
        task = add_task(acme, f"Call {n}", n, status=["open", "done"][n % 2])
        Note.objects.create(account=acme, author=alice, body=f"Note {n}", task=task)
        CsmSentiment.objects.create(account=acme, author=alice, value=3, note=f"Said {n}")
    assert count() == few


def test_a_note_on_the_account_page_goes_to_the_top_of_the_timeline(client_as, alice, book):
    acme = book["alice"]
    add_task(acme, "Earlier task")
    url = reverse("playbooks:account_note", args=[acme.pk])
    response = client_as(alice).post(url, {"body": "Champion left the company."}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and is_fragment(response)
    assert html.lstrip().startswith('<section class="card" id="timeline">')
    assert html.index("Champion left the company.") < html.index("Earlier task")
    assert "Note added." in html
    assert Note.objects.get().author == alice


def test_an_empty_account_note_is_refused_in_place(client_as, alice, book):
    url = reverse("playbooks:account_note", args=[book["alice"].pk])
    response = client_as(alice).post(url, {"body": ""}, **HTMX)
    assert "Write something in the note." in response.content.decode()
    assert not Note.objects.exists()


def test_an_account_note_without_htmx_redirects_to_the_account(client_as, alice, book):
    acme = book["alice"]
    url = reverse("playbooks:account_note", args=[acme.pk])
    response = client_as(alice).post(url, {"body": "By phone."})
    assert response.status_code == 302 and response["Location"] == acme.get_absolute_url()
    assert Note.objects.get().body == "By phone."


@pytest.mark.parametrize(
    ("actor", "owner", "allowed"),
    [
        ("alice", "alice", True),
        ("bob", "alice", False),
        ("maggie", "bob", True),
        ("maggie", "charlie", False),
        ("ada", "charlie", True),
    ],
)
def test_account_notes_follow_account_scope(request, client_as, book, actor, owner, allowed):
    user = request.getfixturevalue(actor)
    url = reverse("playbooks:account_note", args=[book[owner].pk])
    response = client_as(user).post(url, {"body": "Hello"}, **HTMX)
    assert response.status_code == (200 if allowed else 404)
    assert Note.objects.exists() == allowed


# --- Home and navigation -----------------------------------------------------------------------


def test_home_shows_tasks_due_and_the_nav_badge(client_as, alice, book):
    acme = book["alice"]
    add_task(acme, "Late call", -2)
    add_task(acme, "Today's call", 0)
    add_task(acme, "Next week", 7)
    response = client_as(alice).get("/")
    html = response.content.decode()
    assert response.context["task_counts"]["overdue"] == 1
    assert response.context["task_counts"]["today"] == 1
    assert [t.title for t in response.context["tasks_due"]] == ["Late call", "Today's call"]
    assert '<span class="nav-badge" title="Overdue or due today">2</span>' in html
    assert 'href="/tasks/"' in html


def test_no_badge_when_nothing_is_due(client_as, alice, book):
    add_task(book["alice"], "Next week", 7)
    assert b"nav-badge" not in client_as(alice).get("/").content


def test_a_cards_give_to_choices_are_everyone_it_may_go_to_with_its_assignee_selected(
    client_as, alice, bob, maggie
):
    """The choices are written in Python (playbooks_tasks.assignee_options): escaped,
    one per person, the assignee's selected."""
    from tests.factories import AccountFactory

    bob.first_name = "Bob <b>&</b>"
    bob.save()
    task = add_task(AccountFactory(owner=alice), assignee=bob)
    body = client_as(bob).get("/tasks/").content.decode()  # bob's queue

    select = body[body.index(f'id="reassign-{task.pk}"') :]
    select = select[: select.index("</select>")]
    assert f'<option value="{bob.pk}" selected>Bob &lt;b&gt;&amp;&lt;/b&gt;' in select
    assert select.count("<option ") == 3  # alice, bob, maggie (the team's manager)
    assert select.count(" selected") == 1


def test_a_task_card_shows_its_accounts_arr_band_renewal_and_owner(client_as, alice, bob):
    import datetime as dt
    from decimal import Decimal

    from tests.factories import AccountFactory

    account = AccountFactory(
        owner=bob, arr=Decimal("768000"), renewal_date=dt.date(2027, 1, 15), name="Acme"
    )
    bare = AccountFactory(owner=bob, arr=Decimal("0"), renewal_date=None, name="Bare")
    task = add_task(account, assignee=alice)
    other = add_task(bare, assignee=alice)
    body = client_as(alice).get(QUEUE_URL).content.decode()

    card = body[body.index(f'id="task-{task.pk}"') :]
    card = card[: card.index("</article>")]
    assert "ARR 768,000" in card and "Not scored" in card
    assert "renews 15 Jan 2027" in card and f"owner {bob}" in card
    card = body[body.index(f'id="task-{other.pk}"') :]
    assert "no renewal date" in card[: card.index("</article>")]


@pytest.mark.parametrize(
    ("who", "owner", "status"),
    [
        ("alice", "alice", 200),
        ("maggie", "bob", 200),
        ("bob", "charlie", 404),
        ("ada", "charlie", 200),
    ],
)
def test_the_timeline_card_answers_whoever_may_open_the_account(
    request, client_as, book, who, owner, status
):
    url = reverse("playbooks:account_timeline", args=[book[owner].pk])
    assert client_as(request.getfixturevalue(who)).get(url, **HTMX).status_code == status
