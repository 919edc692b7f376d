"""Webhook deliveries signed per Standard Webhooks, verified the way receivers verify
them: with the ``standardwebhooks`` library. Secrets rotate with two valid at once;
the X-Vitals-* headers of the previous release stay, and stay valid."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import importlib

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from playbooks.models import Delivery, WebhookEndpoint
from playbooks.services import delivery_attempt, delivery_enqueue, webhook_secret_rotate

pytestmark = pytest.mark.django_db


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def deliver_to(endpoint: WebhookEndpoint, *, key: str, now: dt.datetime) -> Delivery:
    delivery = delivery_enqueue(
        channel=Delivery.Channel.WEBHOOK,
        target=endpoint.url,
        event="task.created",
        payload='{"event":"task.created","id":"' + key + '","data":{"task":{"id":1}}}',
        key=key,
        now=now,
        endpoint=endpoint,
        dispatch=False,
    )
    assert delivery_attempt(delivery_id=delivery.pk, now=now).result == "sent"
    return delivery


def test_a_receiver_verifies_a_delivery_with_the_standard_library(receiver):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
    now = timezone.now()  # the receiver checks the timestamp against its clock
    deliver_to(endpoint, key="event:task.created:1:1", now=now)

    [request] = receiver.received
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["id"] == "event:task.created:1:1"
    headers = lowered(request.headers)
    assert headers["webhook-id"] == "event:task.created:1:1"  # the same on every retry
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))

    # A body changed in transit, another secret, or a replay later on: all refused.
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body.replace(b"1}", b"2}"), request.headers)
    other = WebhookEndpoint(name="Other")  # a fresh secret
    with pytest.raises(WebhookVerificationError):
        Webhook(other.secret).verify(request.body, request.headers)
    stale = {**request.headers, "webhook-timestamp": str(int(now.timestamp()) - 3600)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(endpoint.secret).verify(request.body, stale)


def test_during_a_rotation_both_secrets_verify_then_only_the_new_one(receiver):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
    old_secret = endpoint.secret
    now = timezone.now()
    endpoint = webhook_secret_rotate(endpoint=endpoint, now=now - dt.timedelta(hours=23))
    assert endpoint.secret != old_secret and endpoint.previous_secret == old_secret

    deliver_to(endpoint, key="k1", now=now)  # 23 hours into the rotation
    request = receiver.received[-1]
    assert Webhook(old_secret).verify(request.body, request.headers)
    assert Webhook(endpoint.secret).verify(request.body, request.headers)
    assert len(lowered(request.headers)["webhook-signature"].split(" ")) == 2

    # A day after the rotation the old secret signs no more.
    endpoint = webhook_secret_rotate(endpoint=endpoint, now=now - dt.timedelta(days=2))
    deliver_to(endpoint, key="k2", now=now)
    request = receiver.received[-1]
    assert Webhook(endpoint.secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.previous_secret).verify(request.body, request.headers)


def test_a_secret_from_before_keeps_its_old_signature_valid(receiver):
    # A receiver set up before Standard Webhooks holds a 64-character hex secret and
    # checks X-Vitals-Signature with it; the migration keeps that working.
    migration = importlib.import_module("playbooks.migrations.0005_endpoint_signing_and_pausing")
    hex_secret = "ab" * 32
    endpoint = WebhookEndpoint.objects.create(name="Old", url=receiver.url, secret=hex_secret)
    from django.apps import apps

    migration.to_standard_format(apps, None)
    endpoint.refresh_from_db()
    assert endpoint.secret == "whsec_" + base64.b64encode(hex_secret.encode()).decode()

    deliver_to(endpoint, key="k-old", now=timezone.now())
    [request] = receiver.received
    expected = hmac.new(hex_secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert lowered(request.headers)["x-vitals-signature"] == f"sha256={expected}"
    assert Webhook(endpoint.secret).verify(request.body, request.headers)
