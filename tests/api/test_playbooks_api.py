"""Playbooks over the API: configuration tools read them with their steps, and create
and change them, checked as the admin checks them."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from playbooks.models import (
    Playbook,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    WebhookEndpoint,
)
from tests.playbooks.builders import make_playbook, task_step, usage_model


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


# --- Writes ------------------------------------------------------------------------------


def test_a_playbook_is_created_with_its_steps_in_order(api_as, alice):
    usage_model()
    endpoint = WebhookEndpoint.objects.create(name="CRM", url="https://crm.example/hooks")

    response = api_as("config:write").post(
        "/api/v1/playbooks/",
        {
            "name": "Became At-risk",
            "trigger": "band_changed",
            "to_band_name": "At-risk",
            "steps": [
                {
                    "kind": "create_task",
                    "task_title": "Call {account}",
                    "assignee_rule": "user",
                    "assignee_user": "alice",
                },
                {"kind": "send_webhook", "webhook_endpoint": "CRM", "wait_days": 3},
            ],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert [(s["position"], s["kind"]) for s in body["steps"]] == [
        (1, "create_task"),
        (2, "send_webhook"),
    ]
    playbook = Playbook.objects.get(pk=body["id"])
    assert (playbook.trigger, playbook.to_band_name) == ("band_changed", "At-risk")
    first, second = playbook.steps.order_by("position")
    assert (first.task_title, first.assignee_user) == ("Call {account}", alice)
    assert (second.webhook_endpoint, second.wait_days) == (endpoint, 3)


def test_each_bad_field_and_step_is_named(api_as):
    api = api_as("config:write")

    response = api.post(
        "/api/v1/playbooks/",
        {
            "name": "Broken",
            "trigger": "band_changed",
            "to_band_name": "Nowhere",
            "steps": [
                {"kind": "create_task", "task_title": "Fine"},
                {"kind": "create_task", "task_title": "Call {customer}"},
                {"kind": "send_email", "email_to": "address", "email_body": "Hi"},
                {"kind": "bogus"},
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    fields = error["fields"]
    assert set(fields) == {"steps"}  # the item errors come before the whole is checked
    assert set(fields["steps"]) == {"3"}
    assert "kind" in fields["steps"]["3"]
    assert not Playbook.objects.exists()

    response = api.post(
        "/api/v1/playbooks/",
        {
            "name": "Broken",
            "trigger": "band_changed",
            "to_band_name": "Nowhere",
            "steps": [
                {"kind": "create_task", "task_title": "Fine"},
                {"kind": "create_task", "task_title": "Call {customer}"},
                {"kind": "send_email", "email_to": "address", "email_body": "Hi"},
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "No scoring model has a band named 'Nowhere'" in fields["to_band_name"][0]
    assert set(fields["steps"]) == {"1", "2"}
    assert "Unknown placeholder {customer}" in fields["steps"]["1"]["task_title"][0]
    assert set(fields["steps"]["2"]) == {"email_address", "email_subject"}
    assert not Playbook.objects.exists()


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("metric", {"trigger": "metric_threshold", "metric": "log\x00ins"}),
        ("owner_team", {"trigger": "account_created", "owner_team": "S\x00MB"}),
        ("assignee_user", {"steps": [{"kind": "create_task", "assignee_user": "a\x00"}]}),
        ("webhook_endpoint", {"steps": [{"kind": "send_webhook", "webhook_endpoint": "\x00"}]}),
    ],
)
def test_a_name_with_a_nul_character_is_refused_before_any_lookup(api_as, where, body):
    # PostgreSQL cannot even compare text holding NUL: it must never reach a query.
    response = api_as("config:write").post(
        "/api/v1/playbooks/",
        {"name": "Nul", "trigger": "account_created", **body},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert where in str(response.json()["error"]["fields"])
    assert not Playbook.objects.exists()


def test_a_trigger_without_its_parameters_is_refused_by_field(api_as):
    response = api_as("config:write").post(
        "/api/v1/playbooks/",
        {"name": "Drops", "trigger": "score_dropped", "arr_min": "500", "arr_max": "100"},
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"drop_points", "within_days", "arr_max"}


def test_patch_changes_fields_and_replaces_the_steps(api_as):
    usage_model()
    playbook = make_playbook("Became At-risk")
    api = api_as("config:write")

    response = api.patch(
        f"/api/v1/playbooks/{playbook.pk}/",
        {
            "cooldown_days": 7,
            "steps": [
                {
                    "kind": "post_slack",
                    "slack_webhook_url": "https://hooks.example/x",
                    "slack_text": "{account} is {band}",
                }
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["cooldown_days"] == 7
    assert [(s.position, s.kind) for s in playbook.steps.all()] == [(1, "post_slack")]

    # Without "steps" the steps stay; the whole playbook is checked again.
    response = api.patch(f"/api/v1/playbooks/{playbook.pk}/", {"to_band_name": ""}, format="json")
    assert response.status_code == 400
    assert "to_band_name" in response.json()["error"]["fields"]
    assert playbook.steps.count() == 1


def test_steps_that_runs_used_are_not_replaced(api_as, book):
    usage_model()
    playbook = make_playbook("Became At-risk")
    run = PlaybookRun.objects.create(playbook=playbook, account=book["alice"], event_key="x:1")
    step = playbook.steps.get()
    PlaybookStepRun.objects.create(run=run, step=step, due_at=timezone.now())
    api = api_as("config:write")

    refused = api.patch(
        f"/api/v1/playbooks/{playbook.pk}/",
        {"is_active": False, "steps": [{"kind": "create_task", "task_title": "New"}]},
        format="json",
    )
    allowed = api.patch(f"/api/v1/playbooks/{playbook.pk}/", {"is_active": False}, format="json")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "playbook_has_runs"
    assert allowed.status_code == 200
    assert list(playbook.steps.all()) == [step]
    assert step.step_runs.count() == 1


def test_writing_playbooks_needs_config_write(api_as):
    playbook = make_playbook("Account created", trigger="account_created", steps=[])
    api = api_as("config:read")

    created = api.post(
        "/api/v1/playbooks/", {"name": "X", "trigger": "account_created"}, format="json"
    )
    changed = api.patch(f"/api/v1/playbooks/{playbook.pk}/", {"name": "Y"}, format="json")

    assert (created.status_code, changed.status_code) == (403, 403)
    assert not Playbook.objects.filter(name__in=["X", "Y"]).exists()


def test_the_api_refuses_a_slack_step_aimed_at_the_metadata_service(api_as):
    # As in production: no network allowed beyond the public ones (tests/playbooks/test_egress.py).
    with override_settings(VITALS_OUTBOUND_ALLOWED_NETWORKS=[]):
        response = api_as("config:write").post(
            "/api/v1/playbooks/",
            {
                "name": "Exfiltrate",
                "trigger": "account_created",
                "steps": [
                    {
                        "kind": "post_slack",
                        "slack_text": "hi",
                        "slack_webhook_url": "http://169.254.169.254/latest/meta-data/",
                    }
                ],
            },
            format="json",
        )
    assert response.status_code == 400
    [message] = response.json()["error"]["fields"]["steps"]["0"]["slack_webhook_url"]
    assert "169.254.169.254: a link-local address" in message
