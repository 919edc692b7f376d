"""The daily digest: each person who asked for it gets one email a day, at their hour in
their time zone, with a text and an HTML part listing their overdue and due tasks, what
they were told since yesterday and, for a manager, the team's. Sent through the outbound
deliveries (retries, once per key), on a real worker too."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import Kind
from notifications.services import Draft, notification_settings_save, notify
from playbooks.models import Delivery, Task
from playbooks.services import deliveries_due_send
from workspace.digest import digests_send

pytestmark = pytest.mark.django_db

# 07:10 UTC: 08:10 in Berlin, 02:10 in New York.
NOW = dt.datetime(2026, 12, 7, 7, 10, tzinfo=dt.UTC)
TODAY = NOW.date()


def opt_in(user, *, hour=8, zone="Europe/Berlin", **fields):
    return notification_settings_save(
        user=user, fields={"digest": True, "digest_hour": hour, "time_zone": zone, **fields}
    )


@pytest.fixture
def work(book, alice, bob):
    acme, borealis = book["alice"], book["bob"]
    Task.objects.create(
        account=acme, title="Late renewal call", assignee=alice, due_date=TODAY - dt.timedelta(days=2),
        priority="urgent",
    )  # fmt: skip
    Task.objects.create(account=acme, title="Send QBR deck", assignee=alice, due_date=TODAY)
    Task.objects.create(
        account=acme, title="Next month", assignee=alice, due_date=TODAY + dt.timedelta(days=20)
    )
    Task.objects.create(
        account=borealis, title="Bob's late", assignee=bob, due_date=TODAY - dt.timedelta(days=1)
    )
    notify(
        drafts=[
            Draft(alice.pk, Kind.LEVEL_WORSE, "Acme Analytics is now At-risk (was Neutral) · score 31",
                  acme.get_absolute_url(), "event:1", acme.pk),
            Draft(bob.pk, Kind.LEVEL_WORSE, "Borealis Bank is now Critical (was At-risk) · score 12",
                  borealis.get_absolute_url(), "event:2", borealis.pk),
        ],
        now=NOW - dt.timedelta(hours=3),
    )  # fmt: skip


def payload(user) -> dict:
    return json.loads(Delivery.objects.get(event="digest", target=user.email).payload)


def test_a_csm_gets_her_digest_at_her_hour_in_her_time_zone_once(settings, work, alice, bob):
    settings.VITALS_SITE_URL = "https://vitals.example.com"
    opt_in(alice)  # 8:00 in Berlin: due
    opt_in(bob, zone="America/New_York")  # 2:10 there: not yet

    assert digests_send(now=NOW) == 1
    assert digests_send(now=NOW + dt.timedelta(minutes=15)) == 0  # once a day

    [delivery] = Delivery.objects.filter(event="digest")
    assert (delivery.target, delivery.idempotency_key) == (
        "alice@example.com",
        f"digest:{alice.pk}:2026-12-07",
    )
    message = payload(alice)
    assert message["subject"] == (
        "Your day in Vitals, Mon 7 Dec: 1 overdue, 1 due today, 1 new notification"
    )
    text = message["text"]
    acme = work_url = (
        f"https://vitals.example.com/accounts/{Task.objects.get(title='Send QBR deck').account_id}/"
    )
    assert "Tasks: 1 overdue, 1 due today, 1 upcoming." in text
    assert "- Late renewal call — Acme Analytics, urgent, due 5 Dec (overdue)" in text
    assert "- Send QBR deck — Acme Analytics, normal, due 7 Dec" in text
    assert "Next month" not in text
    assert (
        "New since yesterday (1):\n- Acme Analytics is now At-risk (was Neutral) · score 31" in text
    )
    assert f"  {acme}\n" in text
    assert "Bob's late" not in text and "Borealis" not in text  # not hers
    assert "Stop or change this email: https://vitals.example.com/notifications/settings/" in text
    html = message["html"]
    assert f'<a href="{work_url}#task-' in html
    assert "Acme Analytics is now At-risk (was Neutral) · score 31" in html
    assert "&lt;" not in text  # the text part is not HTML-escaped

    # Later that day New York's morning comes: Bob's.
    assert digests_send(now=NOW + dt.timedelta(hours=6)) == 1
    assert "- Bob's late — Borealis Bank, normal, due 6 Dec (overdue)" in payload(bob)["text"]


def test_a_managers_digest_covers_the_team(work, maggie, alice, bob):
    opt_in(maggie)
    digests_send(now=NOW)
    text = payload(maggie)["text"]
    assert "Your team's overdue tasks:\n- Alice: 1\n- Bob: 1\n" in text
    assert "Your team's accounts gone worse since yesterday:" in text
    assert "- Borealis Bank is now Critical (was At-risk) · score 12 (owner Bob)" in text
    assert "- Acme Analytics is now At-risk (was Neutral) · score 31 (owner Alice)" in text


def test_no_digest_without_asking_an_address_or_an_active_account(work, alice, bob, charlie):
    opt_in(alice, digest=False)
    opt_in(bob)
    bob.email = ""
    bob.save()
    opt_in(charlie)
    charlie.is_active = False
    charlie.save()
    assert digests_send(now=NOW) == 0
    assert not Delivery.objects.exists()


def test_the_digest_goes_out_as_an_email_with_text_and_html_parts(work, alice):
    opt_in(alice)
    digests_send(now=NOW)
    deliveries_due_send(now=NOW + dt.timedelta(seconds=1))

    [email] = mail.outbox
    assert email.to == ["alice@example.com"]
    assert email.subject.startswith("Your day in Vitals, Mon 7 Dec: 1 overdue")
    assert "Late renewal call" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert "<h1" in html and "Late renewal call" in html
    assert Delivery.objects.get(event="digest").status == "sent"


def test_digests_on_a_real_worker(celery_worker_process, book, alice, maggie):
    from tests.workers import wait_for
    from workspace import tasks

    Task.objects.create(
        account=book["alice"], title="Due now", assignee=alice, due_date=timezone.localdate()
    )
    opt_in(alice, hour=0, zone="UTC")
    opt_in(maggie, hour=0, zone="UTC")
    celery_worker_process.start(concurrency=2)
    for _ in range(2):  # sent twice, as by two beat processes
        tasks.send_digests.delay()
    wait_for(
        lambda: Delivery.objects.filter(event="digest", status="sent").count() == 2,
        timeout=60,
        message=f"two digests sent; worker logs:\n{celery_worker_process.logs()}",
    )
    tasks.send_digests.delay()
    wait_for(
        lambda: celery_worker_process.logs().count("workspace.tasks.send_digests[") >= 6,
        timeout=60,
        message="the third run to be handled",
    )
    assert Delivery.objects.filter(event="digest").count() == 2  # still once each
    assert "- Due now — Acme Analytics, normal, due" in payload(alice)["text"]
    assert "Your team's overdue tasks:\n- Alice: 0\n" in payload(maggie)["text"]


def test_a_long_day_says_how_much_more_there_is(work, alice):
    from notifications.services import Draft, notify

    notify(
        drafts=[
            Draft(alice.pk, Kind.TASK_ASSIGNED, f"Task {n} given", "/tasks/", f"many:{n}", None)
            for n in range(14)
        ],
        now=NOW - dt.timedelta(hours=1),
    )
    opt_in(alice)
    digests_send(now=NOW)
    text = payload(alice)["text"]
    assert "New since yesterday (15):" in text
    assert text.count("\n- Task ") == 10  # the first ten
    assert "…and 5 more: http://localhost:8000/notifications/?show=unread" in text
