"""Ada (CS ops) configures playbooks in Django admin, tries one on an account, and looks
after runs, tasks, endpoints and deliveries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from playbooks.models import Delivery, Playbook, PlaybookRun, Task, WebhookEndpoint
from playbooks.services import score_events_process, step_runs_due_execute
from tests.playbooks.builders import NOW, healthy_then, make_playbook

pytestmark = pytest.mark.django_db


def step_form(prefix: str = "steps", **fields) -> dict[str, str]:
    data = {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    defaults = {
        "position": "1",
        "kind": "create_task",
        "wait_days": "0",
        "task_priority": "normal",
        "task_due_in_days": "2",
        "assignee_rule": "owner",
        "email_to": "owner",
    }
    data.update({f"{prefix}-0-{k}": v for k, v in {**defaults, **fields}.items()})
    return data


def playbook_form(**fields) -> dict[str, str]:
    return {
        "name": "Became At-risk",
        "is_active": "on",
        "trigger": "band_changed",
        "to_band_name": "At-risk",
        "cooldown_days": "30",
        "on_recovery": "close",
        "holdout_pct": "0",
        **fields,
    }


def test_ada_creates_a_playbook_with_a_step(usage, ada, client_as):
    client = client_as(ada)
    response = client.post(
        reverse("admin:playbooks_playbook_add"),
        {**playbook_form(), **step_form(task_title="Call {account}")},
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    playbook = Playbook.objects.get()
    assert [s.task_title for s in playbook.steps.all()] == ["Call {account}"]

    listing = client.get(reverse("admin:playbooks_playbook_changelist"))
    assert "band changed from any band to At-risk" in listing.text
    change = client.get(reverse("admin:playbooks_playbook_change", args=[playbook.pk]))
    assert "Dry run on an account" in change.text


def test_mistakes_are_named_by_step_and_field(usage, ada, client_as):
    response = client_as(ada).post(
        reverse("admin:playbooks_playbook_add"),
        {**playbook_form(to_band_name="At risk"), **step_form(task_title="Call {acount}")},
    )
    assert response.status_code == 200
    text = response.text
    assert "No scoring model has a band named &#x27;At risk&#x27;" in text
    assert "Step 1 (create a csm task): Unknown placeholder {acount}" in text
    assert not Playbook.objects.exists()


def test_the_dry_run_page_shows_what_would_happen(usage, book, ada, client_as):
    playbook = make_playbook(steps=[{"kind": "create_task", "task_title": "Call {account}"}])
    healthy_then(book["alice"], 6)
    url = reverse("admin:playbooks_playbook_dry_run", args=[playbook.pk])
    client = client_as(ada)

    page = client.get(url, {"account": "acme"})

    assert page.status_code == 200
    assert "would fire now" in page.text
    assert "Task “Call Acme Analytics”" in page.text
    assert "Assignee: Alice" in page.text
    assert not PlaybookRun.objects.exists()
    missing = client.get(url, {"account": "nope"})
    assert "No account has the external id &#x27;nope&#x27;." in missing.text


def test_a_csm_cannot_reach_the_dry_run(usage, book, alice, client_as):
    playbook = make_playbook()
    url = reverse("admin:playbooks_playbook_dry_run", args=[playbook.pk])
    response = client_as(alice).get(url, {"account": "acme"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_runs_tasks_and_deliveries_are_there_to_inspect(usage, book, ada, client_as, receiver):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url, events=["task.created"])
    make_playbook()
    healthy_then(book["alice"], 6)
    score_events_process(now=NOW)
    step_runs_due_execute(now=NOW)
    run, task, delivery = PlaybookRun.objects.get(), Task.objects.get(), Delivery.objects.get()
    client = client_as(ada)

    for url in [
        reverse("admin:playbooks_playbookrun_changelist"),
        reverse("admin:playbooks_playbookrun_change", args=[run.pk]),
        reverse("admin:playbooks_task_changelist"),
        reverse("admin:playbooks_task_change", args=[task.pk]),
        reverse("admin:playbooks_delivery_changelist") + "?status__exact=pending",
        reverse("admin:playbooks_delivery_change", args=[delivery.pk]),
        reverse("admin:playbooks_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:playbooks_note_changelist"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    endpoint_page = client.get(
        reverse("admin:playbooks_webhookendpoint_change", args=[endpoint.pk])
    )
    assert endpoint.secret in endpoint_page.text


def test_retry_now_puts_failed_deliveries_back_in_line(db, ada, client_as):
    failed = Delivery.objects.create(
        channel="slack",
        target="http://127.0.0.1:9/x",
        event="playbook.step",
        payload="{}",
        idempotency_key="a",
        status="failed",
        attempts=8,
    )
    sent = Delivery.objects.create(
        channel="slack",
        target="http://127.0.0.1:9/x",
        event="playbook.step",
        payload="{}",
        idempotency_key="b",
        status="sent",
        attempts=1,
    )

    response = client_as(ada).post(
        reverse("admin:playbooks_delivery_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )

    assert "1 delivery(ies) sent for another attempt. 1 not failed, left alone." in response.text
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, sent.status) == ("pending", "sent")


def test_an_admin_resumes_a_paused_endpoint_and_rotates_its_secret(db, ada, client_as):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM",
        url="https://crm.example/hook",
        paused_at=timezone.now(),
        paused_reason="10 failed attempts in a row",
        failures=10,
    )
    waiting = Delivery.objects.create(
        channel="webhook",
        target=endpoint.url,
        endpoint=endpoint,
        event="task.created",
        payload="{}",
        idempotency_key="waiting",
        next_attempt_at=timezone.now() + dt.timedelta(hours=1),
    )
    client = client_as(ada)
    listing = client.get(reverse("admin:playbooks_webhookendpoint_changelist"))
    assert "Paused since" in listing.text

    response = client.post(
        reverse("admin:playbooks_webhookendpoint_changelist"),
        {"action": "resume", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    assert "Resumed 1 endpoint(s); 1 delivery(ies) sent again." in response.text
    endpoint.refresh_from_db()
    waiting.refresh_from_db()
    assert (endpoint.paused_at, endpoint.failures) == (None, 0)
    assert waiting.next_attempt_at <= timezone.now()

    old = endpoint.secret
    client.post(
        reverse("admin:playbooks_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.previous_secret_until > timezone.now() + dt.timedelta(hours=23)
