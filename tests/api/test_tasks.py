"""Tasks over the API: a CRM or a script lists the tasks it reaches, and completes,
snoozes or reassigns them, with the same rules as the task pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from playbooks.models import Delivery, PlaybookRun, PlaybookStepRun, Task, WebhookEndpoint
from tests.playbooks.builders import make_playbook

TODAY = timezone.localdate()


def add_task(account, title: str, *, due_in: int = 1, **fields) -> Task:
    fields.setdefault("assignee", account.owner)
    return Task.objects.create(
        account=account, title=title, due_date=TODAY + dt.timedelta(days=due_in), **fields
    )


def titles(response) -> list[str]:
    return [task["title"] for task in response.json()["results"]]


@pytest.fixture
def tasks(book) -> dict[str, Task]:
    """A task on each CSM's account."""
    return {
        "alice": add_task(book["alice"], "Call Acme", due_in=3, priority="low"),
        "bob": add_task(book["bob"], "Call Borealis", due_in=1, priority="urgent"),
        "charlie": add_task(book["charlie"], "Call Cobalt", due_in=2, priority="high"),
    }


def test_an_integration_lists_every_task_with_its_details(api_as, tasks, alice):
    run = PlaybookRun.objects.create(
        playbook=make_playbook("Renewal push"), account=tasks["alice"].account
    )
    step_run = PlaybookStepRun.objects.create(
        run=run, step=run.playbook.steps.get(), due_at=timezone.now()
    )
    Task.objects.filter(pk=tasks["alice"].pk).update(origin_step_run=step_run)

    response = api_as("tasks:read").get("/api/v1/tasks/")

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert titles(response) == ["Call Borealis", "Call Cobalt", "Call Acme"]  # by due date
    acme = body["results"][2]
    assert acme == {
        "id": tasks["alice"].pk,
        "account": "acme",
        "title": "Call Acme",
        "description": "",
        "priority": "low",
        "due_date": (TODAY + dt.timedelta(days=3)).isoformat(),
        "status": "open",
        "snoozed_until": None,
        "assignee": "alice",
        "playbook": "Renewal push",
        "created_at": acme["created_at"],
        "completed_at": None,
        "closed_at": None,
        "close_reason": "",
    }
    assert body["results"][0]["playbook"] is None


def test_the_list_filters_and_orders(api_as, tasks):
    api = api_as("tasks:read")
    due = (TODAY + dt.timedelta(days=2)).isoformat()

    assert titles(api.get("/api/v1/tasks/", {"assignee": "bob"})) == ["Call Borealis"]
    assert titles(api.get("/api/v1/tasks/", {"account": "cobalt"})) == ["Call Cobalt"]
    assert titles(api.get("/api/v1/tasks/", {"due_before": due})) == [
        "Call Borealis",
        "Call Cobalt",
    ]
    assert titles(api.get("/api/v1/tasks/", {"due_after": due})) == ["Call Cobalt", "Call Acme"]
    assert titles(api.get("/api/v1/tasks/", {"ordering": "priority"})) == [
        "Call Borealis",
        "Call Cobalt",
        "Call Acme",
    ]
    assert titles(api.get("/api/v1/tasks/", {"ordering": "-priority"}))[0] == "Call Acme"
    Task.objects.filter(pk=tasks["bob"].pk).update(status="done")
    assert titles(api.get("/api/v1/tasks/", {"status": "done"})) == ["Call Borealis"]


def test_a_bad_filter_is_a_400_naming_it(api_as, tasks):
    response = api_as("tasks:read").get(
        "/api/v1/tasks/", {"status": "sleeping", "due_before": "soon"}
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "due_before"}


def test_a_token_acting_for_alice_sees_her_accounts_tasks_and_hers_only(api_as, tasks, alice):
    # Charlie's account is out of Alice's scope, but a task on it assigned to her is hers.
    add_task(tasks["charlie"].account, "Help Charlie", assignee=alice)
    api = api_as("tasks:read", user=alice)

    listed = api.get("/api/v1/tasks/")

    assert sorted(titles(listed)) == ["Call Acme", "Help Charlie"]
    assert api.get(f"/api/v1/tasks/{tasks['charlie'].pk}/").status_code == 404
    assert api.get(f"/api/v1/tasks/{tasks['alice'].pk}/").json()["title"] == "Call Acme"


def test_completing_a_task_sends_task_completed_once(api_as, tasks, alice):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hooks", events=["task.completed"]
    )
    api = api_as("tasks:write", user=alice)
    url = f"/api/v1/tasks/{tasks['alice'].pk}/"

    first = api.patch(url, {"status": "done"}, format="json")
    again = api.patch(url, {"status": "done"}, format="json")

    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "done"
    assert first.json()["completed_at"] is not None
    task = Task.objects.get(pk=tasks["alice"].pk)
    assert (task.status, task.completed_by) == ("done", alice)
    deliveries = Delivery.objects.filter(event="task.completed")
    assert list(deliveries.values_list("endpoint", flat=True)) == [endpoint.pk]


def test_snoozing_needs_a_day_after_today(api_as, tasks):
    api = api_as("tasks:write")
    url = f"/api/v1/tasks/{tasks['alice'].pk}/"

    today = api.patch(url, {"status": "snoozed", "snoozed_until": TODAY.isoformat()}, format="json")
    missing = api.patch(url, {"status": "snoozed"}, format="json")
    later = TODAY + dt.timedelta(days=5)
    snoozed = api.patch(
        url, {"status": "snoozed", "snoozed_until": later.isoformat()}, format="json"
    )

    assert today.status_code == 400
    assert today.json()["error"]["fields"] == {"snoozed_until": ["Snooze until a day after today."]}
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"snoozed_until"}
    assert snoozed.status_code == 200
    assert (snoozed.json()["status"], snoozed.json()["snoozed_until"]) == (
        "snoozed",
        later.isoformat(),
    )


def test_reassigning_reaches_only_people_the_token_may_give_tasks_to(
    api_as, tasks, alice, bob, charlie
):
    api = api_as("tasks:write", user=alice)
    url = f"/api/v1/tasks/{tasks['alice'].pk}/"

    to_bob = api.patch(url, {"assignee": "bob"}, format="json")
    to_charlie = api.patch(url, {"assignee": "charlie"}, format="json")
    bob.is_active = False
    bob.save()
    to_inactive = api_as("tasks:write").patch(url, {"assignee": "bob"}, format="json")
    to_nobody = api_as("tasks:write").patch(url, {"assignee": "zed"}, format="json")

    assert to_bob.status_code == 200 and to_bob.json()["assignee"] == "bob"
    for refused in (to_charlie, to_inactive, to_nobody):
        assert refused.status_code == 400
        assert set(refused.json()["error"]["fields"]) == {"assignee"}
    assert Task.objects.get(pk=tasks["alice"].pk).assignee == bob


def test_a_closed_task_cannot_change_409(api_as, tasks):
    Task.objects.filter(pk=tasks["alice"].pk).update(status="cancelled")
    api = api_as("tasks:write")
    url = f"/api/v1/tasks/{tasks['alice'].pk}/"

    for body in ({"status": "done"}, {"assignee": "bob"}):
        response = api.patch(url, body, format="json")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "task_closed"
        assert set(error["fields"]) == {"status"}


def test_a_failed_second_change_undoes_the_first(api_as, tasks, bob):
    url = f"/api/v1/tasks/{tasks['alice'].pk}/"
    body = {"assignee": "bob", "status": "snoozed", "snoozed_until": TODAY.isoformat()}

    response = api_as("tasks:write").patch(url, body, format="json")

    assert response.status_code == 400
    assert Task.objects.get(pk=tasks["alice"].pk).assignee.username == "alice"


def test_an_empty_or_unknown_change_is_a_400(api_as, tasks):
    api = api_as("tasks:write")
    url = f"/api/v1/tasks/{tasks['alice'].pk}/"

    assert api.patch(url, {}, format="json").status_code == 400
    wrong = api.patch(url, {"status": "open"}, format="json")
    assert wrong.status_code == 400
    assert set(wrong.json()["error"]["fields"]) == {"status"}


def test_a_task_out_of_reach_or_missing_is_404_and_unchanged(api_as, tasks, alice):
    api = api_as("tasks:write", user=alice)

    out_of_scope = api.patch(
        f"/api/v1/tasks/{tasks['charlie'].pk}/", {"status": "done"}, format="json"
    )
    missing = api.patch("/api/v1/tasks/999999/", {"status": "done"}, format="json")

    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.json() == missing.json()
    assert Task.objects.get(pk=tasks["charlie"].pk).status == "open"


# --- Creating -----------------------------------------------------------------------------------


def test_a_token_acting_for_alice_creates_a_task_on_her_account(api_as, book, alice, bob):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hooks", events=["task.created"]
    )
    api = api_as("tasks:write", "tasks:read", user=alice)
    body = {
        "account": "acme",
        "title": "Call Acme about the renewal",
        "due_date": (TODAY + dt.timedelta(days=4)).isoformat(),
        "priority": "high",
        "assignee": "bob",
    }

    response = api.post("/api/v1/tasks/", body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert {k: data[k] for k in body} == body
    assert (data["status"], data["playbook"]) == ("open", None)
    task = Task.objects.get(pk=data["id"])
    assert (task.account, task.assignee, task.created_by) == (book["alice"], bob, alice)
    assert list(
        Delivery.objects.filter(event="task.created").values_list("endpoint", flat=True)
    ) == [endpoint.pk]
    # Without an assignee it is the owner's.
    del body["assignee"]
    second = api.post("/api/v1/tasks/", body, format="json").json()
    assert second["assignee"] == "alice"


def test_creating_refuses_what_the_token_does_not_reach_naming_the_field(api_as, book, alice):
    api = api_as("tasks:write", user=alice)
    due = (TODAY + dt.timedelta(days=1)).isoformat()
    cases = [
        ({"account": "cobalt", "title": "T", "due_date": due}, "account"),  # another team's
        ({"account": "nowhere", "title": "T", "due_date": due}, "account"),
        ({"account": "acme", "title": "T", "due_date": due, "assignee": "charlie"}, "assignee"),
        ({"account": "acme", "title": "", "due_date": due}, "title"),
        ({"account": "acme", "title": "T", "due_date": "soon"}, "due_date"),
        ({"account": "acme", "title": "T", "due_date": due, "priority": "asap"}, "priority"),
    ]
    for body, field in cases:
        response = api.post("/api/v1/tasks/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert set(response.json()["error"]["fields"]) == {field}, (body, response.json())
    churned = book["alice"]
    churned.churned_at = TODAY
    churned.save()
    response = api.post(
        "/api/v1/tasks/", {"account": "acme", "title": "T", "due_date": due}, format="json"
    )
    assert response.status_code == 400
    assert "churned" in response.json()["error"]["fields"]["account"][0]
    assert not Task.objects.exists()


def test_creating_needs_the_write_scope(api_as, book):
    body = {"account": "acme", "title": "T", "due_date": TODAY.isoformat()}
    response = api_as("tasks:read").post("/api/v1/tasks/", body, format="json")
    assert response.status_code == 403
    assert not Task.objects.exists()
