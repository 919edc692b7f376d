"""Outbound messages: email, Slack incoming webhooks and signed webhooks.

A message is first a ``Delivery`` row, created in the same transaction as the change
that causes it, under a unique idempotency key; it is then sent by a Celery task
(``playbooks.tasks.deliver``) which calls ``delivery_attempt``:

1. claim the delivery with a conditional update (pending, due, not leased by another
   worker) and count the attempt — a duplicate message finds nothing to claim;
2. send it, with a timeout: a 2xx answer (or an accepted email) means sent;
3. record the attempt (time, status, error) on the row; on failure, schedule the next
   attempt with exponential back-off, or mark the delivery failed after the last one.

Webhook deliveries are signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``; the older ``X-Vitals-*`` headers too, for
one release): see ``playbooks.services.endpoints``. Every URL is checked before a
connection is opened (``playbooks.egress``: public addresses only, no redirects), and an
endpoint that keeps failing is paused until an admin resumes it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string

from accounts.models import Account
from config.tasking import each, send_on_commit
from playbooks.egress import OutboundRefused, open_url
from playbooks.models import Delivery, Task, WebhookEndpoint
from playbooks.services.endpoints import endpoint_attempt_record, signature_headers
from scoring.formatting import format_change, format_delta

logger = logging.getLogger(__name__)

USER_AGENT = "Vitals-Webhooks/1"
# A claimed delivery is the claimer's for this long beyond the request timeout (a worker
# killed mid-request leaves it to the tick after that).
LEASE_MARGIN = dt.timedelta(seconds=10)
# A retry message may arrive a moment before its due time (clocks, rounding).
EARLY_TOLERANCE = dt.timedelta(seconds=2)


def backoff_seconds(*, attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: doubling, capped."""
    base = settings.VITALS_DELIVERY_BACKOFF
    return min(base * 2 ** max(attempts - 1, 0), settings.VITALS_DELIVERY_BACKOFF_MAX)


def json_body(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, default=str)


def account_ref(account: Account) -> dict[str, Any]:
    return {"id": account.pk, "external_id": account.external_id, "name": account.name}


def task_data(task: Task) -> dict[str, Any]:
    step_run = task.origin_step_run
    return {
        "id": task.pk,
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "status": task.status,
        "due_date": task.due_date.isoformat(),
        "assignee": task.assignee.username if task.assignee is not None else None,
        "account": account_ref(task.account),
        "origin": "manual" if step_run is None else "playbook",
        "playbook": step_run.run.playbook.name if step_run is not None else None,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        "completed_by": task.completed_by.username if task.completed_by is not None else None,
    }


def event_envelope(*, event: str, key: str, now: dt.datetime, data: dict[str, Any]) -> str:
    return json_body({"event": event, "id": key, "created_at": now.isoformat(), "data": data})


def _subscribers(
    event: str, endpoints: list[WebhookEndpoint] | None = None
) -> list[WebhookEndpoint]:
    # Few endpoints: filtered here rather than with a JSON lookup SQLite lacks.
    if endpoints is None:
        endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    return [e for e in endpoints if event in (e.events or [])]


def delivery_enqueue(
    *,
    channel: str,
    target: str,
    event: str,
    payload: str,
    key: str,
    now: dt.datetime,
    endpoint: WebhookEndpoint | None = None,
    account: Account | None = None,
    step_run=None,
    dispatch: bool = True,
) -> Delivery:
    """The delivery with idempotency key ``key``, created if new (and then sent once the
    transaction commits)."""
    delivery, created = Delivery.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "channel": channel,
            "target": target,
            "event": event,
            "payload": payload,
            "endpoint": endpoint,
            "account": account,
            "step_run": step_run,
            "created_at": now,
            "next_attempt_at": now,
            "dispatched_at": now if dispatch else None,
        },
    )
    if created and dispatch:
        send_on_commit("playbooks.tasks.deliver", each([delivery.pk]))
    return delivery


def webhook_event_enqueue(
    *,
    event: str,
    object_id: int,
    data: dict[str, Any],
    now: dt.datetime,
    account: Account | None = None,
    dispatch: bool = True,
    endpoints: list[WebhookEndpoint] | None = None,
) -> list[Delivery]:
    """One delivery of ``event`` about ``object_id`` to every active endpoint subscribed
    to it (among ``endpoints`` when given); exactly once per (event, object, endpoint)
    through the idempotency key."""
    deliveries = []
    for endpoint in _subscribers(event, endpoints):
        key = f"event:{event}:{object_id}:{endpoint.pk}"
        deliveries.append(
            delivery_enqueue(
                channel=Delivery.Channel.WEBHOOK,
                target=endpoint.url,
                event=event,
                payload=event_envelope(event=event, key=key, now=now, data=data),
                key=key,
                now=now,
                endpoint=endpoint,
                account=account,
                dispatch=dispatch,
            )
        )
    return deliveries


def task_event_enqueue(
    *, task: Task, event: str, now: dt.datetime, dispatch: bool = True
) -> list[Delivery]:
    endpoints = _subscribers(event)
    if not endpoints:
        return []
    return webhook_event_enqueue(
        event=event,
        object_id=task.pk,
        data={"task": task_data(task)},
        now=now,
        account=task.account,
        dispatch=dispatch,
        endpoints=endpoints,
    )


def score_event_name(ev) -> str:
    """The outbound event a score event is: a confirmed band change, a score drop, or —
    when a new scoring model version alone caused it — a re-baseline (not an alarm)."""
    if ev.rebaseline:
        return WebhookEndpoint.Event.REBASELINED
    if ev.kind == "band_changed":
        return WebhookEndpoint.Event.BAND_CHANGED
    return WebhookEndpoint.Event.SCORE_DROPPED


def score_event_data(ev) -> dict[str, Any]:
    return {
        "account": account_ref(ev.account),
        "kind": ev.kind,
        "from_band": ev.from_band.name if ev.from_band is not None else None,
        "to_band": ev.to_band.name if ev.to_band is not None else None,
        "from_level": ev.from_level or None,
        "to_level": ev.to_level or None,
        "score_before": ev.score_before,
        "score_after": ev.score_after,
        "summary": f"{format_change(ev.score_before, ev.score_after)} ({format_delta(ev.delta)})",
        "rebaseline": ev.rebaseline,
        "computed_at": ev.health_score.computed_at.isoformat(),
    }


def event_delivery(
    *,
    endpoint: WebhookEndpoint,
    event: str,
    object_id: int,
    data: dict[str, Any],
    account_id: int | None,
    now: dt.datetime,
    dispatch: bool = True,
) -> Delivery:
    """The unsaved delivery of ``event`` about ``object_id`` to ``endpoint``, under the
    key ``webhook_event_enqueue`` uses, for the set-based paths to insert in bulk."""
    key = f"event:{event}:{object_id}:{endpoint.pk}"
    return Delivery(
        channel=Delivery.Channel.WEBHOOK,
        target=endpoint.url,
        endpoint=endpoint,
        event=event,
        payload=event_envelope(event=event, key=key, now=now, data=data),
        account_id=account_id,
        idempotency_key=key,
        created_at=now,
        next_attempt_at=now,
        dispatched_at=now if dispatch else None,
    )


def score_event_webhooks_enqueue(*, events: Iterable, now: dt.datetime) -> list[int]:
    """Deliveries of ``account.band_changed`` / ``account.score_dropped`` (and
    ``account.rebaselined`` for the changes a new model version alone caused) for a batch
    of score events (``select_related`` account, bands, health score), in one insert.
    Returns the ids of the deliveries created."""
    active = list(WebhookEndpoint.objects.filter(is_active=True))
    endpoints = {name: _subscribers(name, active) for name in WebhookEndpoint.Event.values}
    if not any(endpoints.values()):
        return []
    rows = []
    for ev in events:
        name = score_event_name(ev)
        for endpoint in endpoints[name]:
            rows.append(
                event_delivery(
                    endpoint=endpoint,
                    event=name,
                    object_id=ev.pk,
                    data=score_event_data(ev),
                    account_id=ev.account_id,
                    now=now,
                )
            )
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    keys = [row.idempotency_key for row in rows]
    return list(
        Delivery.objects.filter(idempotency_key__in=keys, created_at=now, attempts=0).values_list(
            "pk", flat=True
        )
    )


# --- Sending ---------------------------------------------------------------------------


def http_post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body``; returns (status, the first bytes of the answer; a redirect is not
    followed). Network errors and timeouts raise ``OSError``; an address that may not be
    called, ``OutboundRefused`` before any connection."""
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with open_url(request, timeout=settings.VITALS_DELIVERY_TIMEOUT) as response:
            return response.status, response.read(500).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, (exc.read(500) or b"").decode("utf-8", "replace")


class PermanentFailure(Exception):
    """Sending cannot work however often it is tried (the endpoint was deleted, the
    address may not be called)."""


def _send(delivery: Delivery, *, now: dt.datetime) -> tuple[int | None, str]:
    """Send once; returns (HTTP status or None for email, error text or "")."""
    if delivery.channel == Delivery.Channel.EMAIL:
        message = json.loads(delivery.payload)
        email = EmailMultiAlternatives(
            subject=message["subject"],
            body=message["text"],
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.target],
            headers={"X-Vitals-Delivery": delivery.idempotency_key},
        )
        if message.get("html"):
            email.attach_alternative(message["html"], "text/html")
        email.send()
        return None, ""
    body = delivery.payload.encode()
    headers: dict[str, str] = {}
    if delivery.channel == Delivery.Channel.WEBHOOK:
        endpoint = delivery.endpoint
        if endpoint is None:
            raise PermanentFailure("The webhook endpoint was deleted.")
        headers = signature_headers(
            endpoint=endpoint,
            message_id=delivery.idempotency_key,
            event=delivery.event,
            body=body,
            now=now,
        )
    try:
        status, answer = http_post(url=delivery.target, body=body, headers=headers)
    except OutboundRefused as refused:
        raise PermanentFailure(str(refused)) from None
    if 200 <= status < 300:
        return status, ""
    if 300 <= status < 400:
        return status, f"HTTP {status}: a redirect, not followed (give the final URL)."
    return status, f"HTTP {status}: {answer[:300]}".strip()


@dataclass(frozen=True)
class AttemptOutcome:
    """``sent``, ``retry`` (``retry_in`` seconds), ``failed`` or ``skipped`` (nothing to
    do: sent already, not due, or another worker holds it)."""

    result: str
    retry_in: int | None = None


def delivery_attempt(*, delivery_id: int, now: dt.datetime) -> AttemptOutcome:
    """Try to send one delivery once (see the module's docstring for the steps)."""
    lease = dt.timedelta(seconds=settings.VITALS_DELIVERY_TIMEOUT) + LEASE_MARGIN
    claimed = (
        Delivery.objects.filter(
            pk=delivery_id,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now + EARLY_TOLERANCE,
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .exclude(endpoint__paused_at__isnull=False)  # a paused endpoint's wait
        .update(lease_until=now + lease, attempts=F("attempts") + 1)
    )
    if not claimed:
        return AttemptOutcome("skipped")
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    permanent = False
    try:
        status, error = _send(delivery, now=now)
    except PermanentFailure as exc:
        status, error, permanent = None, str(exc), True
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        # Connection refused, DNS, timeouts (all OSError), SMTP refusals, a malformed URL.
        status, error = None, f"{type(exc).__name__}: {exc}"
    delivery.response_status = status
    delivery.last_error = error
    delivery.lease_until = None
    delivery.log = [
        *delivery.log,
        {"attempt": delivery.attempts, "at": now.isoformat(), "status": status, "error": error},
    ]
    retry_in = None
    if not error:
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = now
        result = "sent"
    elif permanent or delivery.attempts >= settings.VITALS_DELIVERY_MAX_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
        result = "failed"
        logger.warning(
            "delivery %s failed after %s attempts: %s", delivery.pk, delivery.attempts, error
        )
    else:
        retry_in = backoff_seconds(attempts=delivery.attempts)
        delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
        # No message waits for the retry (a countdown of up to an hour would outlive the
        # broker's visibility timeout): the tick sends it once it is due.
        delivery.dispatched_at = None
        result = "retry"
    delivery.save(
        update_fields=[
            "status",
            "sent_at",
            "response_status",
            "last_error",
            "lease_until",
            "log",
            "next_attempt_at",
            "dispatched_at",
        ]
    )
    if delivery.endpoint_id is not None:
        endpoint_attempt_record(
            endpoint_id=delivery.endpoint_id, ok=not error, error=error, now=now
        )
    return AttemptOutcome(result, retry_in)


@transaction.atomic
def delivery_retry(*, delivery: Delivery, now: dt.datetime, dispatch: bool = True) -> Delivery:
    """Put a failed delivery back in line for one more attempt now (admin's "retry now")."""
    updated = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.FAILED).update(
        status=Delivery.Status.PENDING, next_attempt_at=now, lease_until=None, dispatched_at=now
    )
    if updated and dispatch:
        send_on_commit("playbooks.tasks.deliver", each([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


def email_payload(*, subject: str, body: str, context: dict[str, Any]) -> str:
    """The JSON payload of an email delivery, rendered with templates/emails/."""
    ctx = {**context, "subject": subject, "body": body}
    return json_body(
        {
            "subject": render_to_string("emails/playbook_step_subject.txt", ctx).strip(),
            "text": render_to_string("emails/playbook_step.txt", ctx),
            "html": render_to_string("emails/playbook_step.html", ctx),
        }
    )


def deliveries_due_send(*, now: dt.datetime) -> dict[str, int]:
    """Attempt every pending delivery that is due, in this process (the command); returns
    the count of each outcome."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
    for delivery_id in list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)):
        counts[delivery_attempt(delivery_id=delivery_id, now=now).result] += 1
    return counts


# Tasks per insert of their event deliveries (task_events_enqueue).
EVENTS_BATCH = 500


def task_events_enqueue(
    *, tasks: Sequence[Task], event: str, now: dt.datetime, dispatch: bool = True
) -> int:
    """``task_event_enqueue`` for many tasks at once (a bulk action's): the endpoints read
    once, the deliveries inserted ``EVENTS_BATCH`` tasks at a time, sent after commit.
    The same idempotency keys and bodies as one by one, so each is still sent once.
    ``tasks`` carry their account and assignee (no query per task). Returns how many
    deliveries were created."""
    endpoints = _subscribers(event)
    created = 0
    for start in range(0, len(tasks) if endpoints else 0, EVENTS_BATCH):
        rows = []
        for task in tasks[start : start + EVENTS_BATCH]:
            data = {"task": task_data(task)}
            rows += [
                event_delivery(
                    endpoint=endpoint,
                    event=event,
                    object_id=task.pk,
                    data=data,
                    account_id=task.account_id,
                    now=now,
                    dispatch=dispatch,
                )
                for endpoint in endpoints
            ]
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        # Those this call created (a key already used was left alone, as get_or_create would).
        ids = list(
            Delivery.objects.filter(
                idempotency_key__in=[row.idempotency_key for row in rows],
                created_at=now,
                attempts=0,
            ).values_list("pk", flat=True)
        )
        created += len(ids)
        if dispatch:
            send_on_commit("playbooks.tasks.deliver", each(ids))
    return created
