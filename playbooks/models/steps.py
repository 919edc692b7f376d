"""The steps of a playbook, and the texts they render: placeholders and the fields a step
may set on an account."""

from __future__ import annotations

import string
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from accounts.services import account_validate
from playbooks.egress import url_refusal
from playbooks.models.endpoints import WebhookEndpoint
from playbooks.models.playbooks import Playbook
from playbooks.models.tasks import Priority

# Placeholders that step texts may use; each is rendered as a plain string.
PLACEHOLDERS = ("account", "score", "band", "previous_band", "owner", "delta", "contact")


def placeholder_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of ``text`` (``[]`` if nothing).

    Only bare names from ``PLACEHOLDERS`` are allowed: no attribute or index access,
    no conversions or format specs, so a text can never reach into an object.
    """
    errors = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"{exc}; write a literal brace as {{{{ or }}}}."]
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            errors.append(f"Unknown placeholder {{{name}}}; use {allowed}.")
        elif spec or conversion:
            errors.append(f"Write the placeholder {{{name}}} without a format or conversion.")
    return errors


def render_text(text: str, context: dict[str, str]) -> str:
    """``text`` with its placeholders filled from ``context`` (plain strings only)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(text):
        out.append(literal)
        if name is not None:
            out.append(str(context.get(name, "")))
    return "".join(out)


ACCOUNT_SET_FIELDS = ("lifecycle_stage", "plan", "segment")


class PlaybookStep(models.Model):
    """One step of a playbook; the fields used depend on ``kind`` (checked by ``clean``).

    Texts may use the placeholders {account}, {score}, {band}, {previous_band}, {owner}
    and {delta}.
    """

    class Kind(models.TextChoices):
        CREATE_TASK = "create_task", "Create a CSM task"
        SEND_EMAIL = "send_email", "Send an email"
        POST_SLACK = "post_slack", "Post to Slack"
        SEND_WEBHOOK = "send_webhook", "Send a signed webhook"
        SET_FIELD = "set_field", "Set a field on the account"

    DELIVERY_KINDS = (Kind.SEND_EMAIL, Kind.POST_SLACK, Kind.SEND_WEBHOOK)

    class Assignee(models.TextChoices):
        OWNER = "owner", "Account owner"
        OWNER_MANAGER = "owner_manager", "The owner's manager"
        USER = "user", "A named user"

    class Recipient(models.TextChoices):
        OWNER = "owner", "Account owner"
        OWNER_MANAGER = "owner_manager", "The owner's manager"
        ADDRESS = "address", "An email address"
        PRIMARY_CONTACT = "primary_contact", "The account's primary contact"
        CONTACT_ROLE = "contact_role", "The account's contact with a role"

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CREATE_TASK)
    wait_days = models.PositiveIntegerField(
        default=0, help_text="Days to wait after the previous step (or the trigger)."
    )

    task_title = models.CharField(max_length=200, blank=True)
    task_description = models.TextField(blank=True)
    task_priority = models.CharField(
        max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    task_due_in_days = models.PositiveIntegerField(default=2)
    assignee_rule = models.CharField(
        max_length=16, choices=Assignee.choices, default=Assignee.OWNER
    )
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="When the assignee is a named user.",
    )

    email_to = models.CharField(max_length=16, choices=Recipient.choices, default=Recipient.OWNER)
    email_address = models.EmailField(blank=True)
    email_contact_role = models.ForeignKey(
        "contacts.ContactRole",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="When the email goes to the account's contact with a role.",
    )
    email_subject = models.CharField(max_length=200, blank=True)
    email_body = models.TextField(blank=True)

    slack_webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Empty = the site's SLACK_DEFAULT_WEBHOOK_URL."
    )
    slack_text = models.TextField(blank=True)

    webhook_endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    field_name = models.CharField(
        max_length=100, blank=True, help_text="lifecycle_stage, plan, segment or attributes.<key>"
    )
    field_value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["playbook", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "position"], name="step_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"

    def errors(self) -> dict[str, list[str]]:
        """What is missing or wrong for this kind of step, by field."""
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(
                f"Step {self.position} ({self.get_kind_display().lower()}): {message}"
            )

        def texts(*fields: str) -> None:
            for field in fields:
                for message in placeholder_errors(getattr(self, field)):
                    add(field, message)

        k = self.Kind
        if self.kind == k.CREATE_TASK:
            if not self.task_title.strip():
                add("task_title", "give the task a title.")
            if self.assignee_rule == self.Assignee.USER and self.assignee_user_id is None:
                add("assignee_user", "choose the user the task goes to.")
            texts("task_title", "task_description")
        elif self.kind == k.SEND_EMAIL:
            if self.email_to == self.Recipient.ADDRESS and not self.email_address:
                add("email_address", "give the address to send to.")
            if self.email_to == self.Recipient.CONTACT_ROLE and self.email_contact_role_id is None:
                add("email_contact_role", "choose the contact role the email goes to.")
            if not self.email_subject.strip():
                add("email_subject", "give the email a subject.")
            if not self.email_body.strip():
                add("email_body", "write the email's text.")
            texts("email_subject", "email_body")
        elif self.kind == k.POST_SLACK:
            if not (self.slack_webhook_url or settings.SLACK_DEFAULT_WEBHOOK_URL):
                add(
                    "slack_webhook_url",
                    "give the Slack incoming-webhook URL (no site default is set).",
                )
            elif self.slack_webhook_url and (refusal := url_refusal(self.slack_webhook_url)):
                add("slack_webhook_url", refusal)
            if not self.slack_text.strip():
                add("slack_text", "write the message.")
            texts("slack_text")
        elif self.kind == k.SEND_WEBHOOK:
            if self.webhook_endpoint_id is None:
                add("webhook_endpoint", "choose the endpoint.")
        elif self.kind == k.SET_FIELD:
            for field, message in set_field_errors(self.field_name, self.field_value):
                add(field, message)
        return errors

    def clean(self) -> None:
        errors = self.errors()
        if errors:
            raise ValidationError(errors)


SETTABLE_FIELDS = ("lifecycle_stage", "plan", "segment")


def set_field_data(name: str, value: str) -> dict[str, Any] | None:
    """The account data a set-field step writes, as the account write path takes it
    (``attributes.<key>`` as a one-key ``attributes``); None for a field it cannot set."""
    if name in SETTABLE_FIELDS:
        return {name: value}
    key = name.removeprefix("attributes.").strip() if name.startswith("attributes.") else ""
    return {"attributes": {key: value}} if key else None


def set_field_clean(name: str, value: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """What a set-field step writes, cleaned by the account write path
    (``accounts.services.account_validate``: a segment or stage by value or label), and
    (field, message) for each problem with its field name or value."""
    data = set_field_data(name, value)
    if data is None:
        if name.startswith("attributes."):
            return {}, [("field_name", "attributes.<key> needs a key, e.g. attributes.risk_flag.")]
        return {}, [
            (
                "field_name",
                f"{name!r} cannot be set; use lifecycle_stage, plan, segment or attributes.<key>.",
            )
        ]
    validation = account_validate(data=data, partial=True)
    problems = [("field_value", text) for texts in validation.errors.values() for text in texts]
    return validation.cleaned, problems


def set_field_errors(name: str, value: str) -> list[tuple[str, str]]:
    """(field, message) for what is wrong with a set-field step's field name and value."""
    return set_field_clean(name, value)[1]
