"""What CS ops are told when a playbook, a step or an endpoint is set up wrong: every
message names the field (and, for steps, the step)."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from playbooks.models import (
    Playbook,
    PlaybookStep,
    WebhookEndpoint,
    placeholder_errors,
    render_text,
)
from tests.scoring.builders import make_metric

pytestmark = pytest.mark.django_db


def errors_of(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as error:
        obj.full_clean()
    return error.value.message_dict


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"trigger": "band_changed"},
            {"to_band_name": ["Name the band the account changes into."]},
        ),
        (
            {"trigger": "band_changed", "to_band_name": "At risk"},
            {
                "to_band_name": [
                    "No scoring model has a band named 'At risk'; bands are: At-risk, Healthy, Neutral."
                ]
            },
        ),
        (
            {"trigger": "band_changed", "from_band_name": "At-risk", "to_band_name": "At-risk"},
            {"from_band_name": ["The band changed from must differ from the band changed into."]},
        ),
        (
            {"trigger": "score_dropped", "drop_points": -5},
            {
                "drop_points": ["The drop must be more than 0 points."],
                "within_days": ["Give the number of days the drop is measured over."],
            },
        ),
        (
            {"trigger": "score_below"},
            {"score_threshold": ["Give the score below which the playbook fires."]},
        ),
        (
            {"trigger": "renewal_within", "band_names_exclude": True},
            {
                "renewal_days": ["Give how many days before the renewal date it fires."],
                "band_names": ["Name the bands to exclude, or untick “exclude”."],
            },
        ),
        (
            {"trigger": "metric_threshold"},
            {
                "metric": ["Choose the metric."],
                "direction": ["Choose whether the value rises above or falls below."],
                "threshold": ["Give the threshold value."],
            },
        ),
        (
            {"trigger": "account_created", "arr_min": 100, "arr_max": 50},
            {"arr_max": ["ARR at most must not be below ARR at least."]},
        ),
    ],
    ids=["no-band", "unknown-band", "same-band", "drop", "below", "renewal", "metric", "arr"],
)
def test_a_trigger_needs_its_parameters(usage, fields, expected):
    errors = errors_of(Playbook(name="P", **fields))
    errors.pop("__all__", None)  # the database's ARR check says it again
    assert errors == expected


def test_a_complete_playbook_is_valid(usage):
    Playbook(name="Ok", trigger="band_changed", to_band_name="At-risk").full_clean()
    Playbook(
        name="Ok2",
        trigger="metric_threshold",
        metric=make_metric("open_tickets"),
        direction="above",
        threshold=5,
    ).full_clean()


def step(**fields) -> PlaybookStep:
    playbook = Playbook.objects.create(name="P", trigger="account_created")
    return PlaybookStep(playbook=playbook, position=2, **fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"kind": "create_task", "assignee_rule": "user"},
            {
                "task_title": ["Step 2 (create a csm task): give the task a title."],
                "assignee_user": ["Step 2 (create a csm task): choose the user the task goes to."],
            },
        ),
        (
            {"kind": "create_task", "task_title": "Call {acount} {score:.0f} {owner.email}"},
            {
                "task_title": [
                    "Step 2 (create a csm task): Unknown placeholder {acount}; use {account}, "
                    "{score}, {band}, {previous_band}, {owner}, {delta}, {contact}.",
                    "Step 2 (create a csm task): Write the placeholder {score} without a format "
                    "or conversion.",
                    "Step 2 (create a csm task): Unknown placeholder {owner.email}; use {account}, "
                    "{score}, {band}, {previous_band}, {owner}, {delta}, {contact}.",
                ]
            },
        ),
        (
            {"kind": "send_email", "email_to": "address", "email_body": "Hi {"},
            {
                "email_address": ["Step 2 (send an email): give the address to send to."],
                "email_subject": ["Step 2 (send an email): give the email a subject."],
                "email_body": [
                    "Step 2 (send an email): Single '{' encountered in format string; write a "
                    "literal brace as {{ or }}."
                ],
            },
        ),
        (
            {"kind": "post_slack"},
            {
                "slack_webhook_url": [
                    "Step 2 (post to slack): give the Slack incoming-webhook URL (no site default is set)."
                ],
                "slack_text": ["Step 2 (post to slack): write the message."],
            },
        ),
        (
            {"kind": "send_webhook"},
            {"webhook_endpoint": ["Step 2 (send a signed webhook): choose the endpoint."]},
        ),
        (
            {"kind": "set_field", "field_name": "name", "field_value": "x"},
            {
                "field_name": [
                    "Step 2 (set a field on the account): 'name' cannot be set; use lifecycle_stage, "
                    "plan, segment or attributes.<key>."
                ]
            },
        ),
        (
            {"kind": "set_field", "field_name": "segment", "field_value": "huge"},
            {
                "field_value": [
                    "Step 2 (set a field on the account): 'huge' is not one of smb, mid_market, enterprise."
                ]
            },
        ),
    ],
    ids=["task", "placeholders", "email", "slack", "webhook", "field-name", "field-value"],
)
def test_a_step_needs_what_its_kind_uses(fields, expected):
    errors = errors_of(step(**fields))
    assert errors == expected


@override_settings(SLACK_DEFAULT_WEBHOOK_URL="https://hooks.slack.com/services/T/B/x")
def test_slack_steps_may_use_the_sites_default_webhook():
    step(kind="post_slack", slack_text="{account} needs help").full_clean()


def test_placeholders_render_plain_strings_and_nothing_else():
    assert placeholder_errors("{account} fell {delta} to {band}; {{literal}}") == []
    assert (
        render_text(
            "{account} fell {delta} to {band}; {{literal}}",
            {"account": "Acme", "delta": "-5", "band": "Red"},
        )
        == "Acme fell -5 to Red; {literal}"
    )
    assert placeholder_errors("{account.__class__}") == [
        "Unknown placeholder {account.__class__}; use {account}, {score}, {band}, "
        "{previous_band}, {owner}, {delta}, {contact}."
    ]
    assert placeholder_errors("{0}") and placeholder_errors("{}")


def test_an_endpoint_subscribes_to_known_events_and_gets_a_secret():
    endpoint = WebhookEndpoint(name="CRM", url="https://crm.example.com/hook", events=["task.done"])
    assert errors_of(endpoint) == {
        "events": [
            "Unknown event 'task.done'; choose from account.band_changed, "
            "account.score_dropped, account.rebaselined, task.created, task.completed."
        ]
    }
    other = WebhookEndpoint(name="CRM2", url="https://crm.example.com/hook")
    # Standard Webhooks' format: whsec_ and the base64 of 24 random bytes.
    assert endpoint.secret.startswith("whsec_") and endpoint.secret != other.secret
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) == 24
