"""Playbooks over the API: configuration tools read them with their steps."""

from __future__ import annotations

from playbooks.models import PlaybookStep, WebhookEndpoint
from tests.playbooks.builders import make_playbook, task_step


def test_playbooks_are_listed_with_their_steps_in_order(api_as, alice):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url="https://crm.example/hooks")
    make_playbook(
        "Became At-risk",
        steps=[
            task_step("Call {account}", assignee_rule="user", assignee_user=alice),
            {"kind": PlaybookStep.Kind.SEND_WEBHOOK, "webhook_endpoint": endpoint, "wait_days": 3},
        ],
    )
    make_playbook("Account created", trigger="account_created", steps=[])

    response = api_as("config:read").get("/api/v1/playbooks/")

    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body["results"]] == ["Account created", "Became At-risk"]
    at_risk = body["results"][1]
    assert (at_risk["trigger"], at_risk["to_band_name"]) == ("band_changed", "At-risk")
    steps = at_risk["steps"]
    assert [(s["position"], s["kind"]) for s in steps] == [
        (1, "create_task"),
        (2, "send_webhook"),
    ]
    assert (steps[0]["task_title"], steps[0]["assignee_user"]) == ("Call {account}", "alice")
    assert (steps[1]["webhook_endpoint"], steps[1]["wait_days"]) == ("CRM", 3)
    assert body["results"][0]["steps"] == []


def test_one_playbook_by_id_and_a_missing_one_is_404(api_as):
    playbook = make_playbook("Became At-risk")
    api = api_as("config:read")

    found = api.get(f"/api/v1/playbooks/{playbook.pk}/")
    missing = api.get(f"/api/v1/playbooks/{playbook.pk + 1000}/")

    assert found.status_code == 200
    assert found.json()["id"] == playbook.pk
    assert found.json()["steps"][0]["task_title"] == "Call {account}"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
