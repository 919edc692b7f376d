"""Outbound calls go to public addresses only. A webhook or Slack URL at loopback, a
private range, a link-local address (the cloud metadata service), a name that resolves
to one, or a redirect to one, is refused — before any connection is attempted.

The test network guard (tests/netguard) fails any socket that would leave the loopback
and records the attempt, so "never attempted" is checked, not assumed; and it answers
for the names a test gives (``FAKE_NAMES``) without any DNS query.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

import tests.netguard.sitecustomize as netguard
from playbooks.egress import url_refusal
from playbooks.models import Delivery, PlaybookStep, WebhookEndpoint
from playbooks.services import delivery_attempt, delivery_enqueue
from tests.playbooks.builders import NOW, FakeReceiver

pytestmark = pytest.mark.django_db

REFUSED = [
    ("http://127.0.0.1:{port}/hook", "127.0.0.1: a loopback address"),
    ("http://[::1]:{port}/hook", "::1: a loopback address"),
    ("http://10.20.30.40/hook", "10.20.30.40: a private address"),
    ("http://192.168.1.10:8080/hook", "192.168.1.10: a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254: a link-local address"),
    ("http://localhost:{port}/hook", "localhost (127.0.0.1): a loopback address"),
    ("https://hooks.internal.example/x", "hooks.internal.example (172.16.5.5): a private address"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "a loopback address"),
]


@pytest.fixture
def strict():
    """Outbound rules as in production: no network allowed beyond the public ones."""
    netguard.FAKE_NAMES.update({"hooks.internal.example": ["172.16.5.5"]})
    attempts = len(netguard.ATTEMPTS)
    receiver = FakeReceiver().start()
    with override_settings(VITALS_OUTBOUND_ALLOWED_NETWORKS=[]):
        yield receiver
    receiver.stop()
    netguard.FAKE_NAMES.clear()
    # Not one socket was even tried beyond the loopback.
    assert netguard.ATTEMPTS[attempts:] == []


def delivery_to(url: str, key: str, endpoint: WebhookEndpoint | None = None) -> Delivery:
    return delivery_enqueue(
        channel=Delivery.Channel.WEBHOOK if endpoint else Delivery.Channel.SLACK,
        target=url,
        event="playbook.step",
        payload='{"text":"hi"}',
        key=key,
        now=NOW,
        endpoint=endpoint,
        dispatch=False,
    )


def port_of(receiver: FakeReceiver) -> int:
    return receiver.server.server_address[1]


@pytest.mark.parametrize(("url", "says"), REFUSED)
def test_a_refused_address_cannot_be_configured(strict, url, says):
    url = url.format(port=port_of(strict))
    assert says in url_refusal(url)
    with pytest.raises(ValidationError) as endpoint:
        WebhookEndpoint(name="Inside", url=url).full_clean()
    assert says in str(endpoint.value.message_dict["url"])
    step = PlaybookStep(position=1, kind=PlaybookStep.Kind.POST_SLACK, slack_text="Hi")
    step.slack_webhook_url = url
    assert says in str(step.errors()["slack_webhook_url"])


@pytest.mark.parametrize(("url", "says"), REFUSED)
def test_a_refused_address_is_never_called(strict, url, says):
    # A target stored before these rules (or by a path that skipped them) is refused
    # again when sending, for good: no retry would change the answer.
    url = url.format(port=port_of(strict))
    delivery = delivery_to(url, "ssrf")
    assert delivery_attempt(delivery_id=delivery.pk, now=NOW).result == "failed"
    delivery.refresh_from_db()
    assert "Refused to call" in delivery.last_error and says in delivery.last_error
    assert strict.received == []  # the loopback receiver was not reached either


def test_a_name_that_resolves_elsewhere_when_sending_is_refused_then(strict):
    netguard.FAKE_NAMES["hooks.partner.example"] = ["93.184.216.34"]  # public, at first
    endpoint = WebhookEndpoint(name="Partner", url="https://hooks.partner.example/in")
    endpoint.full_clean()
    endpoint.save()
    netguard.FAKE_NAMES["hooks.partner.example"] = ["93.184.216.34", "169.254.169.254"]
    delivery = delivery_to(endpoint.url, "rebind", endpoint)
    assert delivery_attempt(delivery_id=delivery.pk, now=NOW).result == "failed"
    delivery.refresh_from_db()
    assert "hooks.partner.example (169.254.169.254): a link-local address" in delivery.last_error


@pytest.mark.parametrize("inside", ["http://169.254.169.254/latest/", "http://127.0.0.1:{port}/"])
def test_a_redirect_is_never_followed(strict, inside):
    # The first receiver is allowed (a LAN receiver named in the setting); it answers
    # with a redirect into a refused address.
    other = FakeReceiver().start()
    strict.statuses = [302]
    strict.redirect_to = inside.format(port=port_of(other))
    with override_settings(VITALS_OUTBOUND_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        delivery = delivery_to(strict.url, "redirect")
        outcome = delivery_attempt(delivery_id=delivery.pk, now=NOW)
    other.stop()
    assert outcome.result == "retry"  # a failed attempt, like any other answer not 2xx
    delivery.refresh_from_db()
    assert delivery.last_error == "HTTP 302: a redirect, not followed (give the final URL)."
    assert len(strict.received) == 1 and other.received == []


def test_a_public_address_and_an_allowed_network_pass():
    assert url_refusal("https://93.184.216.34/hook") is None
    assert url_refusal("https://hooks.slack.example/services/x") is None  # unresolved now
    with override_settings(VITALS_OUTBOUND_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        assert url_refusal("http://10.1.2.3/hook") is None
        assert "a private address" in url_refusal("http://192.168.0.1/hook")
