"""Ada (CS ops) works in Django admin, and admin is no shortcut: what the API refuses
about playbooks, steps, endpoints and tasks, admin refuses with the same words and keeps
everything as it was; what the API does on the way (completion time and person, the
``task.completed`` webhook) admin does too."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tokens import api_token_create
from playbooks.models import (
    Delivery,
    Note,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    Task,
    WebhookEndpoint,
)
from playbooks.services import (
    EndpointInUse,
    score_events_process,
    step_runs_due_execute,
    task_cancel,
    task_create_manual,
    webhook_endpoint_delete,
)
from tests.api.conftest import client_with
from tests.playbooks.builders import NOW, TODAY, healthy_then, make_playbook, task_step

pytestmark = pytest.mark.django_db

PLAYBOOK_FIELDS = [f.name for f in Playbook._meta.concrete_fields if f.editable and f.name != "id"]
STEP_FIELDS = [f.name for f in PlaybookStep._meta.concrete_fields if f.name != "playbook"]


def form_values(instance, names, prefix: str = "") -> dict[str, str]:
    """What the admin's form posts back for ``instance``, unchanged."""
    data = {}
    for name in names:
        value = instance._meta.get_field(name).value_from_object(instance)
        if value is True:
            data[prefix + name] = "on"
        elif value is not False:
            data[prefix + name] = "" if value is None else str(value)
    return data


def change_post(playbook: Playbook, *, step: dict | None = None, delete_step=False, **fields):
    """The playbook's change form as admin posts it, with ``fields`` and the first step's
    ``step`` fields changed (or that step marked for deletion)."""
    steps = list(playbook.steps.all())
    data = {
        **form_values(playbook, PLAYBOOK_FIELDS),
        **fields,
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, existing in enumerate(steps):
        prefix = f"steps-{index}-"
        data.update(form_values(existing, STEP_FIELDS, prefix))
        data[prefix + "playbook"] = str(playbook.pk)
        if index == 0:
            data.update({prefix + k: v for k, v in (step or {}).items()})
            if delete_step:
                data[prefix + "DELETE"] = "on"
    return data


def messages_of(response) -> list[str]:
    """The messages shown on the page a POST led to (followed)."""
    return [m.message for m in response.context["messages"]]


@pytest.fixture
def api_as(db):
    """A client of the API holding a fresh token with ``scopes`` (acting for ``user``)."""

    def make(*scopes: str, user=None):
        _, raw = api_token_create(name="Ada's script", scopes=scopes, user=user)
        return client_with(raw)

    return make


@pytest.fixture
def ran(usage, book):
    """A playbook that has run once for Acme: its step made Alice a task."""
    playbook = make_playbook(steps=[task_step("Call {account}")])
    healthy_then(book["alice"], 6)
    score_events_process(now=NOW)
    step_runs_due_execute(now=NOW)
    assert PlaybookStepRun.objects.count() == 1 and Task.objects.count() == 1
    return playbook


def api_refusal(api, playbook: Playbook, body: dict) -> str:
    response = api.patch(f"/api/v1/playbooks/{playbook.pk}/", body, format="json")
    assert response.status_code == 409, response.content
    return response.json()["error"]["message"]


def test_a_step_that_runs_used_is_not_changed_nor_deleted_in_admin(ran, ada, client_as, api_as):
    refusal = api_refusal(
        api_as("config:write"),
        ran,
        {"steps": [{"kind": "create_task", "task_title": "Email {account}"}]},
    )
    step = ran.steps.get()
    client = client_as(ada)
    url = reverse("admin:playbooks_playbook_change", args=[ran.pk])

    edited = client.post(url, change_post(ran, step={"task_title": "Email {account}"}), follow=True)
    deleted = client.post(url, change_post(ran, delete_step=True), follow=True)

    for response in (edited, deleted):
        assert response.redirect_chain == [(url, 302)]
        assert messages_of(response) == [refusal]
    assert list(ran.steps.values_list("pk", "task_title")) == [(step.pk, "Call {account}")]
    task = Task.objects.get()
    assert task.origin_step_run.step == step and not task.is_manual


def test_the_other_fields_of_a_playbook_that_ran_still_change(ran, ada, client_as):
    step = ran.steps.get()
    url = reverse("admin:playbooks_playbook_change", args=[ran.pk])

    response = client_as(ada).post(url, change_post(ran, name="Became At-risk (old)"))

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    ran.refresh_from_db()
    assert ran.name == "Became At-risk (old)"
    assert list(ran.steps.values_list("pk", flat=True)) == [step.pk]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_playbook_that_ran_is_not_deleted_in_admin(ran, ada, client_as, method):
    url = reverse("admin:playbooks_playbook_delete", args=[ran.pk])

    # The refusal comes before the confirmation page (get) as after it (post).
    client = client_as(ada)
    response = getattr(client, method)(
        url, {"post": "yes"} if method == "post" else {}, follow=True
    )

    change = reverse("admin:playbooks_playbook_change", args=[ran.pk])
    assert response.redirect_chain == [(change, 302)]
    (message,) = messages_of(response)
    assert message.startswith(f"The playbook {ran.name!r} has run 1 time(s)")
    assert Playbook.objects.filter(pk=ran.pk).exists()
    assert (PlaybookStep.objects.count(), PlaybookRun.objects.count()) == (1, 1)
    assert PlaybookStepRun.objects.count() == 1
    assert not Task.objects.get().is_manual


def test_a_playbook_that_never_ran_changes_its_steps_and_goes(usage, ada, client_as):
    playbook = make_playbook(steps=[task_step("Call {account}")])
    client = client_as(ada)
    url = reverse("admin:playbooks_playbook_change", args=[playbook.pk])

    response = client.post(url, change_post(playbook, step={"task_title": "Email {account}"}))

    assert response.status_code == 302
    assert list(playbook.steps.values_list("position", "task_title")) == [(1, "Email {account}")]
    confirm = client.get(reverse("admin:playbooks_playbook_delete", args=[playbook.pk]))
    assert confirm.status_code == 200 and PlaybookStep.objects.exists()  # asked, not done
    client.post(reverse("admin:playbooks_playbook_delete", args=[playbook.pk]), {"post": "yes"})
    assert not Playbook.objects.exists() and not PlaybookStep.objects.exists()


def test_bulk_deletes_that_would_skip_the_services_are_not_offered(ran, ada, client_as):
    client = client_as(ada)
    for name in ["playbook", "task", "webhookendpoint", "note", "playbookrun", "delivery"]:
        page = client.get(reverse(f"admin:playbooks_{name}_changelist"))
        assert page.status_code == 200
        assert 'value="delete_selected"' not in page.text, name
    task = Task.objects.get()
    run = PlaybookRun.objects.get()
    for name, pk in [("task", task.pk), ("playbookrun", run.pk)]:
        response = client.post(
            reverse(f"admin:playbooks_{name}_delete", args=[pk]), {"post": "yes"}
        )
        assert response.status_code == 403, name
    assert (
        Task.objects.filter(pk=task.pk).exists() and PlaybookRun.objects.filter(pk=run.pk).exists()
    )


def task_post(task: Task, **fields) -> dict[str, str]:
    return {
        "assignee": str(task.assignee_id or ""),
        "status": task.status,
        "snoozed_until": "",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
        "notes-MIN_NUM_FORMS": "0",
        "notes-MAX_NUM_FORMS": "1000",
        **fields,
    }


def event_without_ids(delivery: Delivery) -> dict:
    body = json.loads(delivery.payload)
    for key in ("id", "created_at"):
        body.pop(key)
    for key in ("id", "completed_at"):
        body["data"]["task"].pop(key)
    return body


def test_a_task_completed_in_admin_is_completed_as_through_the_api(book, ada, client_as, api_as):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hook", events=["task.completed"]
    )
    acme = book["alice"]
    by_api, in_admin = (
        task_create_manual(
            account=acme, title="Call Acme", due_date=TODAY, created_by=ada, now=timezone.now()
        )
        for _ in range(2)
    )
    api = api_as("tasks:write", user=ada)
    assert (
        api.patch(f"/api/v1/tasks/{by_api.pk}/", {"status": "done"}, format="json").status_code
        == 200
    )

    url = reverse("admin:playbooks_task_change", args=[in_admin.pk])
    response = client_as(ada).post(url, task_post(in_admin, status="done"))

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    by_api.refresh_from_db()
    in_admin.refresh_from_db()
    for task in (by_api, in_admin):
        assert task.status == Task.Status.DONE
        assert task.completed_by == ada
        assert task.completed_at is not None
    deliveries = {d.idempotency_key: d for d in Delivery.objects.filter(event="task.completed")}
    assert set(deliveries) == {
        f"event:task.completed:{task.pk}:{endpoint.pk}" for task in (by_api, in_admin)
    }
    api_delivery = deliveries[f"event:task.completed:{by_api.pk}:{endpoint.pk}"]
    admin_delivery = deliveries[f"event:task.completed:{in_admin.pk}:{endpoint.pk}"]
    assert admin_delivery.status == Delivery.Status.PENDING
    assert (admin_delivery.endpoint, admin_delivery.account) == (endpoint, acme)
    assert event_without_ids(admin_delivery) == event_without_ids(api_delivery)
    assert json.loads(admin_delivery.payload)["data"]["task"]["completed_by"] == ada.username


def test_a_task_done_again_in_admin_sends_nothing_more(book, ada, client_as):
    WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hook", events=["task.completed"]
    )
    task = task_create_manual(
        account=book["alice"], title="Call Acme", due_date=TODAY, created_by=ada, now=timezone.now()
    )
    client = client_as(ada)
    client.post(
        reverse("admin:playbooks_task_changelist"),
        {"action": "complete_tasks", "_selected_action": [task.pk]},
    )
    client.post(
        reverse("admin:playbooks_task_changelist"),
        {"action": "complete_tasks", "_selected_action": [task.pk]},
    )
    task.refresh_from_db()
    assert (task.status, task.completed_by) == (Task.Status.DONE, ada)
    assert Delivery.objects.filter(event="task.completed").count() == 1


def test_a_cancelled_task_is_not_completed_in_admin(book, ada, client_as, api_as):
    task = task_create_manual(
        account=book["alice"], title="Call Acme", due_date=TODAY, created_by=ada, now=timezone.now()
    )
    task_cancel(task=task, by=ada, now=timezone.now())
    response = api_as("tasks:write", user=ada).patch(
        f"/api/v1/tasks/{task.pk}/", {"status": "done"}, format="json"
    )
    assert response.status_code == 409
    refusal = response.json()["error"]["message"]
    client = client_as(ada)
    url = reverse("admin:playbooks_task_change", args=[task.pk])
    task.refresh_from_db()

    form = client.post(url, task_post(task, status="done"), follow=True)
    action = client.post(
        reverse("admin:playbooks_task_changelist"),
        {"action": "complete_tasks", "_selected_action": [task.pk]},
        follow=True,
    )

    assert form.redirect_chain == [(url, 302)] and messages_of(form) == [refusal]
    assert messages_of(action) == [f"{task}: {refusal}"]
    task.refresh_from_db()
    assert (task.status, task.completed_at, task.completed_by) == ("cancelled", None, None)
    assert not Delivery.objects.exists()


def test_admin_reassigns_snoozes_and_notes_through_the_services(book, ada, bob, client_as):
    task = task_create_manual(
        account=book["alice"], title="Call Acme", due_date=TODAY, created_by=ada, now=timezone.now()
    )
    client = client_as(ada)
    url = reverse("admin:playbooks_task_change", args=[task.pk])
    yesterday = timezone.localdate() - timezone.timedelta(days=1)

    too_soon = client.post(
        url, task_post(task, status="snoozed", snoozed_until=str(yesterday)), follow=True
    )
    assert messages_of(too_soon) == ["Snooze until a day after today."]
    later = timezone.localdate() + timezone.timedelta(days=7)
    response = client.post(
        url,
        {
            **task_post(task, assignee=str(bob.pk), status="snoozed", snoozed_until=str(later)),
            "notes-TOTAL_FORMS": "1",
            "notes-0-body": "Left a voicemail.",
            "notes-0-task": str(task.pk),
        },
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    task.refresh_from_db()
    assert (task.assignee, task.status, task.snoozed_until) == (bob, "snoozed", later)
    note = Note.objects.get()
    assert (note.body, note.author, note.task, note.account) == (
        "Left a voicemail.",
        ada,
        task,
        book["alice"],
    )


def test_a_task_made_in_admin_is_a_manual_task_like_any_other(book, ada, client_as):
    WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hook", events=["task.created"]
    )
    response = client_as(ada).post(
        reverse("admin:playbooks_task_add"),
        {
            "account": str(book["alice"].pk),
            "title": "  Send the QBR deck  ",
            "description": "",
            "priority": "high",
            "due_date": str(TODAY),
            "assignee": "",
        },
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    task = Task.objects.get()
    assert (task.title, task.assignee, task.created_by) == (
        "Send the QBR deck",
        book["alice"].owner,
        ada,
    )
    assert task.is_manual
    assert Delivery.objects.filter(event="task.created").count() == 1


def test_an_endpoint_a_step_sends_to_is_not_deleted(usage, ada, client_as):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url="https://crm.example/hook")
    playbook = make_playbook(steps=[{"kind": "send_webhook", "webhook_endpoint": endpoint}])
    client = client_as(ada)

    response = client.post(
        reverse("admin:playbooks_webhookendpoint_delete", args=[endpoint.pk]), {"post": "yes"}
    )

    assert response.status_code == 200  # the admin names what protects it
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    with pytest.raises(EndpointInUse, match="is used by step 1 of “Became At-risk”"):
        webhook_endpoint_delete(endpoint=endpoint)
    assert playbook.steps.get().webhook_endpoint == endpoint


def test_an_endpoint_is_saved_through_its_service(db, ada, client_as):
    client = client_as(ada)
    add = reverse("admin:playbooks_webhookendpoint_add")
    refused = client.post(
        add, {"name": "CRM", "url": "https://ada:pw@crm.example/hook", "is_active": "on"}
    )
    assert refused.status_code == 200 and not WebhookEndpoint.objects.exists()
    assert "Put no user name or password in the URL." in refused.text

    response = client.post(
        add,
        {"name": "CRM", "url": "crm.example/hook", "events": ["task.created"], "is_active": "on"},
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.events) == ("https://crm.example/hook", ["task.created"])
    assert endpoint.secret.startswith("whsec_")
