"""Outbound deliveries: retries with back-off recorded on the row, giving up, retrying
by hand, and event webhooks (band changes, score drops, tasks) sent exactly once."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest
from django.test import override_settings

from playbooks.models import Delivery, WebhookEndpoint
from playbooks.services import (
    backoff_seconds,
    delivery_attempt,
    delivery_enqueue,
    delivery_retry,
    due_work_dispatch,
    score_events_process,
    step_runs_due_execute,
    task_complete,
    task_create_manual,
)
from tests.playbooks.builders import NOW, TODAY, healthy_then, make_playbook

pytestmark = pytest.mark.django_db


def slack_delivery(url: str) -> Delivery:
    return delivery_enqueue(
        channel=Delivery.Channel.SLACK,
        target=url,
        event="playbook.step",
        payload='{"text":"hello"}',
        key="test:1",
        now=NOW,
        dispatch=False,
    )


def at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


def test_the_back_off_doubles_and_is_capped():
    assert [backoff_seconds(attempts=n) for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]


def test_a_receiver_that_fails_twice_gets_the_message_on_the_third_attempt(db, receiver):
    receiver.statuses = [500, 503, 200]
    delivery = slack_delivery(receiver.url)

    first = delivery_attempt(delivery_id=delivery.pk, now=NOW)
    early = delivery_attempt(delivery_id=delivery.pk, now=at(20))  # not due yet
    second = delivery_attempt(delivery_id=delivery.pk, now=at(30))
    third = delivery_attempt(delivery_id=delivery.pk, now=at(90))

    assert [(o.result, o.retry_in) for o in (first, early, second, third)] == [
        ("retry", 30),
        ("skipped", None),
        ("retry", 60),
        ("sent", None),
    ]
    assert len(receiver.received) == 3
    assert all(r.body == b'{"text":"hello"}' for r in receiver.received)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 3, at(90))
    assert delivery.response_status == 200 and delivery.last_error == ""
    assert [(e["attempt"], e["at"], e["status"]) for e in delivery.log] == [
        (1, NOW.isoformat(), 500),
        (2, at(30).isoformat(), 503),
        (3, at(90).isoformat(), 200),
    ]
    assert delivery.log[0]["error"] == "HTTP 500: try again later"


def test_a_receiver_that_is_down_is_retried_and_then_given_up(db):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    delivery = slack_delivery(f"http://127.0.0.1:{port}/hook")

    with override_settings(VITALS_DELIVERY_MAX_ATTEMPTS=3):
        outcomes = []
        moment = NOW
        for _ in range(3):
            outcome = delivery_attempt(delivery_id=delivery.pk, now=moment)
            outcomes.append(outcome.result)
            moment += dt.timedelta(seconds=outcome.retry_in or 0)

    assert outcomes == ["retry", "retry", "failed"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "Connection refused" in delivery.last_error
    assert len(delivery.log) == 3
    # Nothing more happens to a failed delivery unless someone retries it.
    assert delivery_attempt(delivery_id=delivery.pk, now=at(10_000)).result == "skipped"
    assert due_work_dispatch(now=at(10_000)) == {
        "steps_sent": 0,
        "steps_executed": 0,
        "deliveries_attempted": 0,
        "tasks_closed": 0,
        "tasks_woken": 0,
    }


def test_retry_now_gives_a_failed_delivery_one_more_attempt(db, receiver):
    receiver.statuses = [410, 200]
    delivery = slack_delivery(receiver.url)
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8)

    delivery = delivery_retry(delivery=delivery, now=at(60), dispatch=False)
    assert delivery.status == "pending"
    assert delivery_attempt(delivery_id=delivery.pk, now=at(60)).result == "failed"
    assert delivery_retry(delivery=delivery, now=at(120), dispatch=False).status == "pending"
    assert delivery_attempt(delivery_id=delivery.pk, now=at(120)).result == "sent"
    assert Delivery.objects.get().attempts == 10


def test_a_delivery_being_sent_is_not_sent_again_by_a_duplicate_message(db, receiver):
    delivery = slack_delivery(receiver.url)
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=at(40))  # another worker has it

    assert delivery_attempt(delivery_id=delivery.pk, now=at(5)).result == "skipped"
    assert receiver.received == []
    # Its worker died: once the lease is over, the message is sent.
    assert delivery_attempt(delivery_id=delivery.pk, now=at(41)).result == "sent"


def test_the_tick_sends_a_lost_delivery_itself_but_leaves_fresh_ones_to_their_message(db, receiver):
    delivery = delivery_enqueue(
        channel="slack",
        target=receiver.url,
        event="playbook.step",
        payload="{}",
        key="k",
        now=NOW,
        dispatch=True,
    )
    assert delivery.dispatched_at == NOW
    assert due_work_dispatch(now=at(60), redispatch_after=300) == {
        "steps_sent": 0,
        "steps_executed": 0,
        "deliveries_attempted": 0,
        "tasks_closed": 0,
        "tasks_woken": 0,
    }
    assert receiver.received == []

    counts = due_work_dispatch(now=at(301), redispatch_after=300)

    assert counts["deliveries_attempted"] == 1
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.dispatched_at) == ("sent", at(301))


# --- Event webhooks -------------------------------------------------------------------------


@pytest.fixture
def crm(receiver):
    return WebhookEndpoint.objects.create(
        name="CRM",
        url=receiver.url,
        events=[e.value for e in WebhookEndpoint.Event],
    )


def test_band_changes_and_score_drops_go_to_subscribed_endpoints_once(usage, book, crm):
    WebhookEndpoint.objects.create(name="Tasks only", url=crm.url, events=["task.created"])
    WebhookEndpoint.objects.create(
        name="Switched off", url=crm.url, events=["account.band_changed"], is_active=False
    )
    healthy_then(book["alice"], 6)

    first = score_events_process(now=NOW)
    score_events_process(now=NOW)

    assert first.deliveries == 2
    deliveries = {d.event: d for d in Delivery.objects.all()}
    assert set(deliveries) == {"account.band_changed", "account.score_dropped"}
    assert {d.endpoint for d in deliveries.values()} == {crm}
    body = json.loads(deliveries["account.band_changed"].payload)
    assert body["event"] == "account.band_changed"
    assert body["id"] == deliveries["account.band_changed"].idempotency_key
    assert body["data"]["account"]["external_id"] == "acme"
    assert (body["data"]["from_band"], body["data"]["to_band"]) == ("Healthy", "At-risk")
    assert (body["data"]["score_before"], body["data"]["score_after"]) == (90, 30)


def test_task_created_and_completed_are_sent_once_each(usage, book, crm, alice):
    make_playbook()
    healthy_then(book["alice"], 6)
    score_events_process(now=NOW)
    step_runs_due_execute(now=NOW)
    manual = task_create_manual(
        account=book["alice"], title="Send the QBR deck", due_date=TODAY, created_by=alice, now=NOW
    )

    for _ in range(2):  # a double click
        task_complete(task=manual, by=alice, now=NOW)

    events = sorted(
        Delivery.objects.filter(event__startswith="task.").values_list("event", "idempotency_key")
    )
    playbook_task = manual.account.tasks.exclude(pk=manual.pk).get()
    assert events == sorted(
        [
            ("task.completed", f"event:task.completed:{manual.pk}:{crm.pk}"),
            ("task.created", f"event:task.created:{manual.pk}:{crm.pk}"),
            ("task.created", f"event:task.created:{playbook_task.pk}:{crm.pk}"),
        ]
    )
    completed = json.loads(Delivery.objects.get(event="task.completed").payload)["data"]["task"]
    assert completed["status"] == "done"
    assert completed["completed_by"] == "alice"
    assert completed["origin"] == "manual"
    created = json.loads(
        Delivery.objects.get(
            idempotency_key=f"event:task.created:{playbook_task.pk}:{crm.pk}"
        ).payload
    )["data"]["task"]
    assert (created["origin"], created["playbook"]) == ("playbook", "Became At-risk")


# --- An endpoint that keeps failing is paused ---------------------------------------------


def webhook_delivery(endpoint: WebhookEndpoint, key: str, now: dt.datetime) -> Delivery:
    return delivery_enqueue(
        channel=Delivery.Channel.WEBHOOK,
        target=endpoint.url,
        event="task.created",
        payload="{}",
        key=key,
        now=now,
        endpoint=endpoint,
        dispatch=False,
    )


def test_ten_failures_in_a_row_pause_the_endpoint_and_tell_the_admins(db, receiver, ada):
    from playbooks.services import webhook_endpoint_resume

    ada.email = "ada@example.com"
    ada.save()
    receiver.statuses = [503] * 10 + [200]
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
    deliveries = [webhook_delivery(endpoint, f"k{n}", at(n)) for n in range(10)]

    for n, delivery in enumerate(deliveries):  # ten attempts over ten seconds, all failing
        assert delivery_attempt(delivery_id=delivery.pk, now=at(n)).result == "retry"
    endpoint.refresh_from_db()
    assert endpoint.is_paused and endpoint.failures == 10
    assert "10 failed attempts in a row" in endpoint.paused_reason
    assert "HTTP 503" in endpoint.paused_reason
    [notice] = Delivery.objects.filter(channel="email", target="ada@example.com")
    assert "paused the webhook endpoint “CRM”" in json.loads(notice.payload)["subject"]

    # Paused: nothing is sent, nothing is lost, the tick leaves it alone.
    later = webhook_delivery(endpoint, "k-later", at(100))
    assert delivery_attempt(delivery_id=later.pk, now=at(5000)).result == "skipped"
    assert due_work_dispatch(now=at(5000))["deliveries_attempted"] == 1  # the notice only
    assert len(receiver.received) == 10

    # Resumed by an admin: every delivery that waited is due at once.
    assert webhook_endpoint_resume(endpoint=endpoint, now=at(6000)) == 11
    endpoint.refresh_from_db()
    assert (endpoint.is_paused, endpoint.failures) == (False, 0)
    assert delivery_attempt(delivery_id=later.pk, now=at(6000)).result == "sent"


def test_failures_with_a_success_between_or_a_day_apart_do_not_pause(db, receiver):
    receiver.statuses = [500] * 9 + [200] + [500] * 9
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
    for n in range(19):
        delivery = webhook_delivery(endpoint, f"k{n}", at(n))
        delivery_attempt(delivery_id=delivery.pk, now=at(n))
    endpoint.refresh_from_db()
    assert (endpoint.is_paused, endpoint.failures) == (False, 9)

    # A tenth failure, but more than 24 hours after the first of this run: a new count.
    delivery = webhook_delivery(endpoint, "k-next-day", at(86_400 + 60))
    delivery_attempt(delivery_id=delivery.pk, now=at(86_400 + 60))
    endpoint.refresh_from_db()
    assert (endpoint.is_paused, endpoint.failures) == (False, 1)
