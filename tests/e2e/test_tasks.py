"""A CSM's task from end to end in a real browser: a recompute moves one of her accounts
into At-risk, the playbook gives her a task, she completes it in place (no reload), and
another CSM never sees it. The browser must report no JavaScript or CSP error."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from playbooks.models import Task
from playbooks.services import score_events_process, step_runs_due_execute
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.builders import healthy_then, make_playbook, score, task_step, usage_model

pytestmark = pytest.mark.e2e

# Screenshots for a person to look at (not compared by the tests).
SCREENSHOTS = Path(os.environ.get("VITALS_SCREENSHOTS", tempfile.gettempdir()))


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_a_csm_completes_the_task_a_band_change_gave_her(page, transactional_db, browser_errors):
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    UserFactory(username="csm2", first_name="Robin", role=User.Role.CSM)
    acme = AccountFactory(name="Acme Analytics", owner=csm1)
    usage_model()
    make_playbook("Became At-risk", steps=[task_step("Call {account}", task_priority="high")])
    # A real recompute moves Acme from Healthy to At-risk; the playbook turns the band
    # change into a run and its step into Casey's task.
    now = timezone.now()
    healthy_then(acme, 4, at=now)
    assert score_events_process(now=now, dispatch=False).runs == 1
    step_runs_due_execute(now=now, dispatch=False)
    task = Task.objects.get(account=acme)
    assert task.assignee == csm1

    log_in(page, "csm1")
    page.locator("#nav-tasks").click()
    expect(page).to_have_url(re.compile(r"/tasks/$"))
    card = page.locator(f"#task-{task.pk}")
    expect(card).to_contain_text("Call Acme Analytics")
    expect(card).to_contain_text("from playbook “Became At-risk”")
    expect(card.get_by_role("link", name="Acme Analytics")).to_have_attribute(
        "href", acme.get_absolute_url()
    )

    # From here on the page must not reload: a full load would drop this marker.
    page.evaluate("window.stillTheSamePage = true")
    card.get_by_role("button", name="Complete").click()
    expect(card).to_contain_text("Done: Call Acme Analytics.")
    expect(card.get_by_role("button", name="Complete")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/tasks/$"))
    assert page.evaluate("window.stillTheSamePage") is True
    task.refresh_from_db()
    assert task.status == Task.Status.DONE and task.completed_by == csm1

    # The timeline of the account shows it done.
    page.goto(acme.get_absolute_url())
    expect(page.locator("#timeline")).to_contain_text("Task done: Call Acme Analytics")
    expect(page.locator("#timeline")).to_contain_text("Band changed: Healthy → At-risk")

    # Robin, another CSM, never sees it.
    page.get_by_role("button", name="Log out").click()
    log_in(page, "csm2")
    page.goto("/tasks/")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    expect(page.get_by_text("Call Acme Analytics")).to_have_count(0)
    # Asked through the same session without loading it as a page (a 404 page load would
    # itself be logged as a console error).
    assert page.request.get(acme.get_absolute_url()).status == 404

    assert not browser_errors, browser_errors


def test_a_csm_sees_the_task_her_accounts_recovery_closed(page, transactional_db, browser_errors):
    """Casey's account fell into At-risk and she got a task; before she called, the
    account recovered. Her queue no longer holds the task, and the account page says why
    it closed: nothing for her to tidy up."""
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    acme = AccountFactory(name="Acme Analytics", owner=csm1)
    usage_model()
    make_playbook("Became At-risk", steps=[task_step("Call {account}", task_priority="high")])
    now = timezone.now()
    healthy_then(acme, 4, at=now - timezone.timedelta(days=1))
    score_events_process(now=now - timezone.timedelta(days=1), dispatch=False)
    step_runs_due_execute(now=now - timezone.timedelta(days=1), dispatch=False)
    task = Task.objects.get(account=acme)

    log_in(page, "csm1")
    page.goto("/tasks/")
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("Call Acme Analytics")

    score(acme, 18, at=now)  # the next recompute: Healthy again
    score_events_process(now=now, dispatch=False)
    task.refresh_from_db()
    assert task.status == Task.Status.RESOLVED

    page.goto("/tasks/")
    expect(page.get_by_text("Call Acme Analytics")).to_have_count(0)
    page.goto(acme.get_absolute_url())
    card = page.locator(f"#task-{task.pk}")
    expect(card).to_contain_text("Resolved")
    expect(card).to_contain_text(f"Resolved: back to Healthy on {now.day} {now:%b}")
    expect(card.get_by_role("button", name="Complete")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("Task resolved: Call Acme Analytics")
    page.screenshot(path=str(SCREENSHOTS / "task-closed-by-recovery.png"), full_page=True)
    assert not browser_errors, browser_errors


def test_show_more_reads_the_next_tasks_of_a_section_with_and_without_javascript(
    page, browser, live_server, transactional_db, browser_errors, settings
):
    """Casey has 12 overdue tasks; her queue shows 5 at a time with the total. "Show
    more" puts the next 5 under them in place (htmx), then the last 2; without
    JavaScript the same link opens the page with the next 5 and a way back."""
    settings.VITALS_QUEUE_SECTION_ROWS = 5
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    acme = AccountFactory(name="Acme Analytics", owner=csm1)
    today = timezone.localdate()
    late = [
        Task.objects.create(
            account=acme, assignee=csm1, title=f"Late call {n:02}",
            due_date=today - timezone.timedelta(days=20 - n),
        )
        for n in range(12)
    ]  # fmt: skip
    Task.objects.create(account=acme, assignee=csm1, title="Today's call", due_date=today)

    log_in(page, "csm1")
    page.goto("/tasks/")
    overdue = page.locator("#overdue")
    expect(page.locator("#count-overdue")).to_have_text("12")
    expect(overdue.locator("article.task")).to_have_count(5)
    expect(page.locator("#more-overdue")).to_contain_text("5 of 12 overdue")
    page.evaluate("window.stillTheSamePage = true")

    page.locator("#more-overdue").get_by_role("link", name="Show more").click()
    expect(overdue.locator("article.task")).to_have_count(10)
    expect(page.locator("#more-overdue")).to_contain_text("10 of 12 overdue")
    page.locator("#more-overdue").get_by_role("link", name="Show more").click()
    expect(overdue.locator("article.task")).to_have_count(12)
    expect(page.locator("#more-overdue")).to_contain_text("12 of 12 overdue")
    expect(page.locator("#more-overdue").get_by_role("link", name="Show more")).to_have_count(0)
    titles = overdue.locator("h3.task-title").all_inner_texts()
    assert titles == [task.title for task in late]  # each once, oldest first
    assert page.evaluate("window.stillTheSamePage") is True
    # A task shown by "Show more" acts in place like any other.
    card = page.locator(f"#task-{late[11].pk}")
    card.get_by_role("button", name="Complete").click()
    expect(card).to_contain_text("Done: Late call 11.")
    expect(page.locator("#today article.task")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "queue-show-more.png"), full_page=True)
    assert not browser_errors, browser_errors

    # Without JavaScript the link is a page: the next window, the others from the top.
    plain = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    plain_page = plain.new_page()
    try:
        log_in(plain_page, "csm1")
        plain_page.goto("/tasks/")
        plain_page.locator("#more-overdue").get_by_role("link", name="Show more").click()
        expect(plain_page).to_have_url(re.compile(r"/tasks/\?overdue=5-\d{8}-\d-\d+#overdue$"))
        shown = plain_page.locator("#overdue h3.task-title").all_inner_texts()
        assert shown == [task.title for task in late[5:10]]
        expect(plain_page.locator("#more-overdue")).to_contain_text("6–10 of 11 overdue")
        expect(plain_page.locator("#today article.task")).to_have_count(1)
        plain_page.locator("#more-overdue").get_by_role("link", name="Back to the first").click()
        expect(plain_page.locator("#overdue h3.task-title")).to_have_count(5)
    finally:
        plain.close()


def test_the_morning_loop(page, transactional_db, browser_errors):
    """csm1 logs in, opens the top account of "work on next", adds a task there, completes
    another in the queue (its counts follow without a reload), and reads the notification
    of the task her manager gave her: the bell's count goes down."""
    import datetime as dt

    from notifications.models import Notification
    from playbooks.services import task_create_manual

    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    boss = UserFactory(username="boss", first_name="Morgan", role=User.Role.MANAGER)
    big = AccountFactory(
        name="Borealis Bank", owner=csm1, arr=768_000,
        renewal_date=timezone.localdate() + dt.timedelta(days=5),
    )  # fmt: skip
    AccountFactory(name="Small Co", owner=csm1, arr=2_000)
    today = timezone.localdate()
    due = Task.objects.create(account=big, title="Send the deck", assignee=csm1, due_date=today)
    task_create_manual(
        account=big, title="Prepare the renewal", due_date=today + dt.timedelta(days=2),
        created_by=boss, assignee=csm1, now=timezone.now(),
    )  # fmt: skip
    assert Notification.objects.filter(user=csm1).count() == 1

    log_in(page, "csm1")
    expect(page.locator("#bell-count")).to_have_text("1")
    expect(page.locator("#nav-tasks-badge")).to_have_text("1")
    top = page.locator("#work-on-next .next-item").first
    expect(top).to_contain_text("Borealis Bank")
    top.get_by_role("link", name="Borealis Bank").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{big.pk}/$"))

    # A task of her own, from the account page: it joins the account's tasks in place.
    page.locator("#account-tasks summary", has_text="New task").click()
    form = page.locator("#account-tasks #new-task")
    form.get_by_label("Title").fill("Book the QBR")
    form.get_by_label("Due").fill(today.isoformat())
    form.get_by_label("Priority").select_option("high")
    form.get_by_role("button", name="Add task").click()
    expect(page.locator("#account-tasks .message")).to_contain_text("Added “Book the QBR”")
    expect(page.locator("#account-tasks")).to_contain_text("Book the QBR")
    expect(page.locator("#nav-tasks-badge")).to_have_text("2")  # due today: the badge follows
    new = Task.objects.get(title="Book the QBR")
    assert (new.assignee, new.priority, new.created_by) == (csm1, "high", csm1)
    page.screenshot(path=str(SCREENSHOTS / "vitals-account-new-task.png"), full_page=True)

    # Another, done in the queue: the section's count and the badge go down in place.
    page.locator("#nav-tasks").click()
    expect(page.locator("#count-today")).to_have_text("2")
    page.locator(f"#task-{due.pk}").get_by_role("button", name="Complete").click()
    expect(page.locator(f"#task-{due.pk}")).to_contain_text("Done")
    expect(page.locator("#count-today")).to_have_text("1")
    expect(page.locator("#section-count-today")).to_have_text("1")
    expect(page.locator("#nav-tasks-badge")).to_have_text("1")
    page.screenshot(path=str(SCREENSHOTS / "vitals-queue-after-complete.png"), full_page=True)

    # The bell: the task Morgan gave her, read in place.
    page.locator("#nav-bell").click()
    item = page.locator(".notification").first
    expect(item).to_contain_text("Morgan gave you “Prepare the renewal” on Borealis Bank")
    item.get_by_role("button", name="Mark read").click()
    expect(page.locator("#bell-count")).to_have_count(0)
    expect(item.get_by_role("button", name="Mark read")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "vitals-notifications.png"), full_page=True)
    assert Notification.objects.get(user=csm1).read_at is not None
    assert not browser_errors, browser_errors


def test_search_everywhere_from_the_keyboard(page, transactional_db, browser_errors):
    """Type in the navigation's box, arrow down through the grouped results, Enter."""
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    other = UserFactory(username="csm2", first_name="Robin", role=User.Role.CSM)
    acme = AccountFactory(name="Acme Analytics", owner=csm1)
    AccountFactory(name="Acme Other", owner=other)
    Task.objects.create(
        account=acme, title="Acme renewal call", assignee=csm1, due_date=timezone.localdate()
    )

    log_in(page, "csm1")
    page.locator("#nav-search").fill("acme")
    results = page.locator("#nav-search-results")
    expect(results.locator("h3")).to_have_text(["Accounts", "Tasks"])
    expect(results).not_to_contain_text("Acme Other")  # another CSM's
    page.locator("#nav-search").press("ArrowDown")
    expect(results.locator("a.search-hit").first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(results.get_by_role("link", name="Acme renewal call")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.screenshot(path=str(SCREENSHOTS / "vitals-search.png"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/accounts/{acme.pk}/$"))
    assert not browser_errors, browser_errors
