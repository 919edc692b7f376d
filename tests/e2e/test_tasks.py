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
