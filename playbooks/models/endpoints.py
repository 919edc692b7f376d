"""Where playbooks send: webhook endpoints (signed, with rotating secrets, paused when
failing) and every outbound delivery (email, Slack, webhook) with its attempts."""

from __future__ import annotations

import base64
import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from playbooks.egress import url_refusal


def webhook_secret() -> str:
    """A new signing secret in the Standard Webhooks format: ``whsec_`` and the base64 of
    24 random bytes (the bytes are the HMAC key)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(models.Model):
    """An outside URL that receives signed JSON: chosen by a playbook step, or subscribed
    to events (``account.band_changed``, ``task.created``, …).

    Deliveries are signed per Standard Webhooks with ``secret`` and, during a rotation
    (until ``previous_secret_until``), with ``previous_secret`` too. An endpoint that
    keeps failing is paused (``paused_at``): its deliveries wait, none is lost, until an
    admin resumes it.
    """

    class Event(models.TextChoices):
        BAND_CHANGED = "account.band_changed", "Account band changed"
        SCORE_DROPPED = "account.score_dropped", "Account score dropped"
        REBASELINED = "account.rebaselined", "Account re-baselined by a new model version"
        TASK_CREATED = "task.created", "Task created"
        TASK_COMPLETED = "task.completed", "Task completed"

    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=120,
        default=webhook_secret,
        help_text="Signs every delivery (Standard Webhooks: webhook-signature).",
    )
    previous_secret = models.CharField(
        max_length=120, blank=True, help_text="The secret before the last rotation."
    )
    previous_secret_until = models.DateTimeField(
        null=True, blank=True, help_text="Deliveries are signed with both secrets until then."
    )
    failures = models.PositiveIntegerField(
        default=0, help_text="Failed attempts in a row (a success resets it)."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first of those failed attempts."
    )
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Paused after failing again and again: nothing is sent."
    )
    paused_reason = models.TextField(blank=True)
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='Events sent to this endpoint, e.g. ["task.created", "task.completed"].',
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def clean(self) -> None:
        refusal = url_refusal(self.url) if self.url else None
        if refusal:
            raise ValidationError({"url": refusal})
        if not isinstance(self.events, list) or not all(isinstance(e, str) for e in self.events):
            raise ValidationError({"events": 'Give a list of event names, e.g. ["task.created"].'})
        unknown = [e for e in self.events if e not in self.Event.values]
        if unknown:
            raise ValidationError(
                {
                    "events": f"Unknown event {unknown[0]!r}; choose from "
                    f"{', '.join(self.Event.values)}."
                }
            )


class Delivery(models.Model):
    """One outbound message (email, Slack post or webhook) and every attempt to send it.

    ``payload`` is the exact body sent (JSON text; for an email, a JSON object with
    subject, text and html). ``idempotency_key`` is unique, so a step or an event is
    delivered once however often its task runs; receivers see it as
    ``X-Vitals-Delivery`` to drop the duplicates a network failure can still cause.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500, help_text="URL or email address.")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    event = models.CharField(max_length=40, help_text="e.g. task.created or playbook.step")
    payload = models.TextField()
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step_run = models.ForeignKey(
        "playbooks.PlaybookStepRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    idempotency_key = models.CharField(max_length=120, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is sending it until then."
    )
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    log = models.JSONField(default=list, blank=True, help_text="Every attempt: when and how.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.event} → {self.target}"
