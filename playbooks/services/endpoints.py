"""Webhook endpoints: how deliveries to them are signed, how their secrets rotate, and
how an endpoint that keeps failing is paused (and resumed by an admin).

Signatures follow Standard Webhooks (https://www.standardwebhooks.com/), so receivers
can verify them with its libraries::

    webhook-id: <the delivery's idempotency key, the same on every retry>
    webhook-timestamp: <Unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">

The key is the secret's bytes: ``whsec_`` + base64. During a rotation the header
carries a signature with each valid secret, space-separated, so a receiver holding
either accepts. A receiver rejects a delivery whose timestamp is too old: a captured
request cannot be replayed later.

The older headers stay for one release, for receivers set up before:
``X-Vitals-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` (keyed with the same
bytes; for a secret created before Standard Webhooks that is the very string you were
given), ``X-Vitals-Timestamp``, ``X-Vitals-Event`` and ``X-Vitals-Delivery``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q

from accounts.models import User
from config.tasking import each, send_on_commit
from playbooks.models import Delivery, PlaybookStep, WebhookEndpoint, webhook_secret
from playbooks.services.common import EndpointInUse

logger = logging.getLogger(__name__)

# How long the secret before a rotation keeps signing deliveries too.
ROTATION_OVERLAP = dt.timedelta(hours=24)
# An endpoint that fails this many times in a row within this long is paused.
PAUSE_AFTER_FAILURES = 10
PAUSE_WINDOW = dt.timedelta(hours=24)


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (its base64 part, decoded)."""
    return base64.b64decode(secret.removeprefix("whsec_") + "==")


def _sign(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def signature(*, secret: str, body: bytes) -> str:
    """The legacy ``X-Vitals-Signature`` value: ``sha256=`` and the hex HMAC of the body."""
    return "sha256=" + _sign(secret_key(secret), body).hex()


def signature_headers(
    *, endpoint: WebhookEndpoint, message_id: str, event: str, body: bytes, now: dt.datetime
) -> dict[str, str]:
    """Every header that signs one attempt of a delivery to ``endpoint``."""
    timestamp = str(int(now.timestamp()))
    secrets = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_until is None or endpoint.previous_secret_until > now
    ):
        secrets.append(endpoint.previous_secret)
    content = f"{message_id}.{timestamp}.".encode() + body
    signed = " ".join(
        "v1," + base64.b64encode(_sign(secret_key(secret), content)).decode() for secret in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signed,
        # Kept for one release: see the module's docstring.
        "X-Vitals-Event": event,
        "X-Vitals-Delivery": message_id,
        "X-Vitals-Timestamp": timestamp,
        "X-Vitals-Signature": signature(secret=endpoint.secret, body=body),
    }


@transaction.atomic
def webhook_endpoint_save(
    *, endpoint: WebhookEndpoint | None, fields: dict[str, Any]
) -> WebhookEndpoint:
    """Create an endpoint (``endpoint=None``, or a new unsaved one) or change one: its
    name, URL, events and whether it is active. The URL and the events are checked
    (``WebhookEndpoint.clean``: a refused URL raises ValidationError). Its secret and its
    failure state change only by rotation, attempts and resuming."""
    if endpoint is None or endpoint.pk is None:
        endpoint = endpoint or WebhookEndpoint()
    else:
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint that no playbook step sends to. Its deliveries stay as the record
    of what was sent; one still waiting fails as sent to a deleted endpoint."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    users = list(
        PlaybookStep.objects.filter(webhook_endpoint=endpoint)
        .select_related("playbook")
        .order_by("playbook__name", "position")
    )
    if users:
        where = ", ".join(f"step {s.position} of “{s.playbook}”" for s in users)
        raise EndpointInUse(
            f"The endpoint {endpoint.name!r} is used by {where}; choose another endpoint "
            "there first.",
            field="webhook_endpoint",
        )
    endpoint.delete()


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, now: dt.datetime) -> WebhookEndpoint:
    """A new secret for ``endpoint``; the one before keeps signing for ``ROTATION_OVERLAP``
    too, so its receiver can switch without missing a delivery."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = webhook_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint


def endpoint_attempt_record(
    *, endpoint_id: int, ok: bool, error: str, now: dt.datetime
) -> WebhookEndpoint | None:
    """Count a delivery attempt to the endpoint: a success clears its failures; the
    ``PAUSE_AFTER_FAILURES``-th failure in a row within ``PAUSE_WINDOW`` pauses it and
    tells the admins. Returns the endpoint when this attempt paused it."""
    if ok:
        WebhookEndpoint.objects.filter(pk=endpoint_id).filter(
            Q(failures__gt=0) | Q(failing_since__isnull=False)
        ).update(failures=0, failing_since=None)
        return None
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return None
        if endpoint.failing_since is None or endpoint.failing_since < now - PAUSE_WINDOW:
            endpoint.failing_since, endpoint.failures = now, 0
        endpoint.failures += 1
        paused = endpoint.paused_at is None and endpoint.failures >= PAUSE_AFTER_FAILURES
        if paused:
            endpoint.paused_at = now
            endpoint.paused_reason = (
                f"{endpoint.failures} failed attempts in a row since "
                f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC; the last: {error}"
            )[:2000]
            _admins_notify(endpoint=endpoint, now=now)
        endpoint.save(update_fields=["failures", "failing_since", "paused_at", "paused_reason"])
    if paused:
        logger.warning("webhook endpoint %s paused: %s", endpoint.name, endpoint.paused_reason)
        return endpoint
    return None


def _admins_notify(*, endpoint: WebhookEndpoint, now: dt.datetime) -> None:
    """An email to every active admin with an address, as deliveries (so retried)."""
    from playbooks.services.outbound import delivery_enqueue, json_body

    admins = User.objects.filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True)).filter(
        is_active=True
    )
    subject = f"Vitals paused the webhook endpoint “{endpoint.name}”"
    text = (
        f"The webhook endpoint “{endpoint.name}” ({endpoint.url}) was paused: "
        f"{endpoint.paused_reason}\n\n"
        "Its deliveries wait and none is lost. Once the receiver works again, resume it in "
        "Django admin (Webhook endpoints → select it → “Resume paused endpoints”); what "
        "waited is sent at once."
    )
    for admin in admins.exclude(email="").order_by("pk"):
        delivery_enqueue(
            channel=Delivery.Channel.EMAIL,
            target=admin.email,
            event="endpoint.paused",
            payload=json_body({"subject": subject, "text": text, "html": ""}),
            key=f"endpoint_paused:{endpoint.pk}:{int(now.timestamp())}:{admin.pk}",
            now=now,
        )


@transaction.atomic
def webhook_endpoint_resume(*, endpoint: WebhookEndpoint, now: dt.datetime) -> int:
    """Resume a paused endpoint: its failures are forgotten and every delivery that waited
    is due now (sent once this commits). Returns how many were waiting."""
    resumed = WebhookEndpoint.objects.filter(pk=endpoint.pk, paused_at__isnull=False).update(
        paused_at=None, paused_reason="", failures=0, failing_since=None
    )
    if not resumed:
        return 0
    waiting = Delivery.objects.filter(endpoint_id=endpoint.pk, status=Delivery.Status.PENDING)
    ids = list(waiting.values_list("pk", flat=True))
    waiting.update(next_attempt_at=now, dispatched_at=now, lease_until=None)
    send_on_commit("playbooks.tasks.deliver", each(ids))
    return len(ids)
