"""Steps: what each kind creates, for whom, when — and only once.

Alice's account (Acme) falls from Healthy (90) to At-risk (30); the playbooks below are
what CS ops would set up for that.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.core import mail

from accounts.models import Account
from playbooks.models import (
    Delivery,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    Task,
    WebhookEndpoint,
)
from playbooks.services import (
    delivery_attempt,
    due_work_dispatch,
    playbook_run_cancel,
    score_events_process,
    step_run_execute,
    step_runs_due_execute,
)
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.builders import NOW, TODAY, healthy_then, make_playbook, task_step

pytestmark = pytest.mark.django_db

Kind = PlaybookStep.Kind


def fire(account: Account, playbook: Playbook) -> PlaybookRun:
    """Move ``account`` from Healthy to At-risk and turn the events into runs."""
    healthy_then(account, 6)
    score_events_process(now=NOW)
    return PlaybookRun.objects.get(playbook=playbook, account=account)


def first_step_run(run: PlaybookRun) -> PlaybookStepRun:
    return run.step_runs.order_by("step__position").first()


# --- Create a task ------------------------------------------------------------------------


def test_the_owner_gets_a_task_with_the_events_words(usage, book):
    playbook = make_playbook(
        steps=[
            task_step(
                "Call {account} within 2 days",
                task_description="{account} went from {previous_band} to {band} "
                "(score {score}, {delta}). Owner: {owner}.",
                task_priority="high",
                task_due_in_days=2,
            )
        ]
    )
    run = fire(book["alice"], playbook)

    assert step_run_execute(step_run_id=first_step_run(run).pk, now=NOW) == 1

    task = Task.objects.get()
    assert task.title == "Call Acme Analytics within 2 days"
    assert task.description == (
        "Acme Analytics went from Healthy to At-risk (score 30.0, −60.0). Owner: Alice."
    )
    assert (task.priority, task.due_date, task.assignee) == (
        "high",
        TODAY + dt.timedelta(days=2),
        book["alice"].owner,
    )
    assert task.origin_step_run == first_step_run(run)
    run.refresh_from_db()
    assert (run.status, run.finished_at) == (PlaybookRun.Status.DONE, NOW)


def test_executing_a_step_twice_makes_one_task(usage, book):
    playbook = make_playbook()
    step_run = first_step_run(fire(book["alice"], playbook))

    assert step_run_execute(step_run_id=step_run.pk, now=NOW) == 1
    assert step_run_execute(step_run_id=step_run.pk, now=NOW) == 0  # a redelivered message

    assert Task.objects.count() == 1
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts, step_run.done_at) == ("done", 1, NOW)


def test_a_step_is_not_executed_before_it_is_due(usage, book):
    playbook = make_playbook(steps=[task_step(wait_days=3)])
    step_run = first_step_run(fire(book["alice"], playbook))
    assert step_run.due_at == NOW + dt.timedelta(days=3)

    assert step_run_execute(step_run_id=step_run.pk, now=NOW + dt.timedelta(days=2)) == 0
    assert not Task.objects.exists()
    assert step_run_execute(step_run_id=step_run.pk, now=NOW + dt.timedelta(days=3)) == 1
    assert Task.objects.get().due_date == TODAY + dt.timedelta(days=5)


def test_steps_that_wait_no_days_follow_at_once_and_later_ones_wait(usage, book):
    playbook = make_playbook(
        steps=[
            task_step("Call {account}", task_priority="high"),
            task_step("Review {account}", assignee_rule="owner_manager", task_due_in_days=5),
            task_step("Check back on {account}", wait_days=14),
        ]
    )
    run = fire(book["alice"], playbook)

    assert step_runs_due_execute(now=NOW) == 2

    assert sorted(Task.objects.values_list("title", "assignee__username")) == [
        ("Call Acme Analytics", "alice"),
        ("Review Acme Analytics", "maggie"),
    ]
    third = run.step_runs.get(step__position=3)
    assert (third.status, third.due_at) == ("waiting", NOW + dt.timedelta(days=14))
    run.refresh_from_db()
    assert run.status == PlaybookRun.Status.RUNNING

    later = NOW + dt.timedelta(days=14)
    assert due_work_dispatch(now=later)["steps_sent"] == 1
    assert step_runs_due_execute(now=later) == 1
    run.refresh_from_db()
    assert run.status == PlaybookRun.Status.DONE
    assert Task.objects.count() == 3


def test_the_tick_executes_steps_whose_message_was_lost(usage, book):
    """A worker died with the message (or the broker restarted): the step is still
    waiting long after it was sent, so the tick does it itself — once."""
    playbook = make_playbook(steps=[task_step(), task_step("Review", wait_days=0)])
    step_run = first_step_run(fire(book["alice"], playbook))
    assert step_run.dispatched_at == NOW

    soon = due_work_dispatch(now=NOW + dt.timedelta(seconds=60), redispatch_after=300)
    later = due_work_dispatch(now=NOW + dt.timedelta(seconds=301), redispatch_after=300)
    again = due_work_dispatch(now=NOW + dt.timedelta(seconds=700), redispatch_after=300)

    assert (soon["steps_executed"], later["steps_executed"], again["steps_executed"]) == (0, 2, 0)
    assert Task.objects.count() == 2
    assert step_run_execute(step_run_id=step_run.pk, now=NOW) == 0  # the late message


# --- Assignee rules -------------------------------------------------------------------------


def test_owner_manager_goes_to_the_manager_of_the_owners_team(usage, book):
    playbook = make_playbook(steps=[task_step(assignee_rule="owner_manager")])
    fire(book["charlie"], playbook)
    step_runs_due_execute(now=NOW)
    assert Task.objects.get().assignee.username == "mark"


def test_an_owner_without_a_manager_keeps_the_task_and_it_says_why(usage, book):
    loner = UserFactory(username="lee", first_name="Lee")
    account = AccountFactory(owner=loner)
    playbook = make_playbook(steps=[task_step(assignee_rule="owner_manager")])
    fire(account, playbook)

    step_runs_due_execute(now=NOW)

    task = Task.objects.get()
    assert task.assignee == loner
    assert task.description == "(Assigned to the account owner: Lee has no manager on a team.)"


def test_a_named_user_gets_the_task_unless_they_left(usage, book, ada):
    gone = UserFactory(username="gus", first_name="Gus", is_active=False)
    make_playbook(
        "For Ada", steps=[task_step("Ada: {account}", assignee_rule="user", assignee_user=ada)]
    )
    make_playbook(
        "For Gus", steps=[task_step("Gus: {account}", assignee_rule="user", assignee_user=gone)]
    )
    fire(book["alice"], Playbook.objects.get(name="For Ada"))

    step_runs_due_execute(now=NOW)

    assert Task.objects.get(title__startswith="Ada").assignee == ada
    task = Task.objects.get(title__startswith="Gus")
    assert task.assignee.username == "alice"
    assert task.description == "(Assigned to the account owner: Gus is not active.)"


def test_an_account_without_an_owner_gets_an_unassigned_task(usage):
    account = AccountFactory(owner=None)
    playbook = make_playbook()
    fire(account, playbook)

    step_runs_due_execute(now=NOW)

    task = Task.objects.get()
    assert task.assignee is None
    assert task.description == "(Unassigned: the account has no owner.)"


# --- Set a field ----------------------------------------------------------------------------


def test_set_field_changes_the_account(usage, book):
    playbook = make_playbook(
        steps=[
            {"kind": Kind.SET_FIELD, "field_name": "lifecycle_stage", "field_value": "renewing"},
            {
                "kind": Kind.SET_FIELD,
                "field_name": "attributes.risk_flag",
                "field_value": "at-risk",
            },
        ]
    )
    Account.objects.filter(pk=book["alice"].pk).update(attributes={"tier": 1})
    fire(book["alice"], playbook)

    assert step_runs_due_execute(now=NOW) == 2

    account = Account.objects.get(pk=book["alice"].pk)
    assert account.lifecycle_stage == "renewing"
    assert account.attributes == {"tier": 1, "risk_flag": "at-risk"}


def test_set_field_takes_values_as_every_other_door_to_accounts_does(usage, book):
    """The step writes through the account write path: a segment by its label, as CSV,
    API and admin accept it, is stored as its value."""
    playbook = make_playbook(
        steps=[{"kind": Kind.SET_FIELD, "field_name": "segment", "field_value": "Mid-market"}]
    )
    playbook.steps.get().full_clean()
    fire(book["alice"], playbook)

    assert step_runs_due_execute(now=NOW) == 1

    assert Account.objects.get(pk=book["alice"].pk).segment == "mid_market"


def test_a_step_that_cannot_work_fails_visibly_and_stops_the_run(usage, book):
    """An admin saved a bad value around the form's checks: the step fails with the
    reason, the run fails, and the steps after it never run."""
    playbook = make_playbook(
        steps=[
            {"kind": Kind.SET_FIELD, "field_name": "lifecycle_stage", "field_value": "dormant"},
            task_step(),
        ]
    )
    run = fire(book["alice"], playbook)

    assert step_runs_due_execute(now=NOW) == 1

    step_run = first_step_run(run)
    assert step_run.status == PlaybookStepRun.Status.FAILED
    assert "'dormant' is not one of onboarding" in step_run.error
    run.refresh_from_db()
    assert run.status == PlaybookRun.Status.FAILED
    assert run.step_runs.count() == 1
    assert not Task.objects.exists()
    assert Account.objects.get(pk=book["alice"].pk).lifecycle_stage == "mature"


def test_a_cancelled_run_executes_no_more_steps(usage, book):
    playbook = make_playbook(steps=[task_step(wait_days=2)])
    run = fire(book["alice"], playbook)
    assert playbook_run_cancel(run=run, now=NOW) is True

    later = NOW + dt.timedelta(days=2)
    assert due_work_dispatch(now=later) == {
        "steps_sent": 0,
        "steps_executed": 0,
        "deliveries_attempted": 0,
        "tasks_closed": 0,
        "tasks_woken": 0,
    }
    assert step_run_execute(step_run_id=first_step_run(run).pk, now=later) == 0
    assert not Task.objects.exists()


# --- Email, Slack, webhook ---------------------------------------------------------------------


def test_an_email_goes_to_the_owners_manager(usage, book):
    playbook = make_playbook(
        steps=[
            {
                "kind": Kind.SEND_EMAIL,
                "email_to": "owner_manager",
                "email_subject": "{account} is now {band}",
                "email_body": "Score {score} ({delta}). <Owner: {owner}>",
            }
        ]
    )
    fire(book["alice"], playbook)
    step_runs_due_execute(now=NOW)

    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.target, delivery.status) == (
        "email",
        "maggie@example.com",
        "pending",
    )
    assert delivery_attempt(delivery_id=delivery.pk, now=NOW).result == "sent"

    [email] = mail.outbox
    assert email.to == ["maggie@example.com"]
    assert email.subject == "Acme Analytics is now At-risk"
    assert email.body.startswith("Score 30.0 (−60.0). <Owner: Alice>\n")
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Score 30.0 (−60.0). &lt;Owner: Alice&gt;" in html
    assert email.extra_headers["X-Vitals-Delivery"] == delivery.idempotency_key


def test_an_email_to_an_owner_who_is_not_there_fails_the_step(usage):
    playbook = make_playbook(
        steps=[{"kind": Kind.SEND_EMAIL, "email_subject": "Hi", "email_body": "Hello"}]
    )
    run = fire(AccountFactory(owner=None, name="Orphan Co"), playbook)

    step_runs_due_execute(now=NOW)

    assert first_step_run(run).error == "Orphan Co has no owner to email."
    assert not Delivery.objects.exists()


def test_slack_gets_the_text_as_json(usage, book, receiver):
    playbook = make_playbook(
        steps=[
            {
                "kind": Kind.POST_SLACK,
                "slack_webhook_url": receiver.url,
                "slack_text": ":rotating_light: {account} fell to {band} ({score})",
            }
        ]
    )
    fire(book["alice"], playbook)
    step_runs_due_execute(now=NOW)

    result = delivery_attempt(delivery_id=Delivery.objects.get().pk, now=NOW)

    assert result.result == "sent"
    [request] = receiver.received
    assert request.json() == {"text": ":rotating_light: Acme Analytics fell to At-risk (30.0)"}
    assert request.headers["Content-Type"] == "application/json"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_status, delivery.sent_at) == ("sent", 200, NOW)


def test_a_webhook_is_signed_over_its_raw_body(usage, book, receiver):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
    playbook = make_playbook(steps=[{"kind": Kind.SEND_WEBHOOK, "webhook_endpoint": endpoint}])
    run = fire(book["alice"], playbook)
    step_runs_due_execute(now=NOW)
    delivery = Delivery.objects.get()

    assert delivery_attempt(delivery_id=delivery.pk, now=NOW).result == "sent"

    [request] = receiver.received
    # The header kept for one release: HMAC-SHA256 of the raw body, keyed with the
    # secret's bytes (tests/playbooks/test_signing.py: the Standard Webhooks headers).
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    expected = hmac.new(key, request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Vitals-Signature"] == f"sha256={expected}"
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["webhook-id"] == headers["x-vitals-delivery"]
    assert request.headers["X-Vitals-Event"] == "playbook.step"
    assert request.headers["X-Vitals-Delivery"] == f"step_run:{first_step_run(run).pk}"
    assert request.headers["X-Vitals-Timestamp"] == str(int(NOW.timestamp()))
    assert request.body == delivery.payload.encode()
    body = json.loads(request.body)
    assert body["event"] == "playbook.step"
    assert body["data"]["account"] == {
        "id": book["alice"].pk,
        "external_id": "acme",
        "name": "Acme Analytics",
    }
    assert body["data"]["playbook"]["name"] == playbook.name
    assert (body["data"]["band"], body["data"]["previous_band"]) == ("At-risk", "Healthy")


def test_a_delivery_step_executed_twice_delivers_once(usage, book, receiver):
    endpoint = WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
    playbook = make_playbook(steps=[{"kind": Kind.SEND_WEBHOOK, "webhook_endpoint": endpoint}])
    step_run = first_step_run(fire(book["alice"], playbook))

    step_run_execute(step_run_id=step_run.pk, now=NOW)
    PlaybookStepRun.objects.filter(pk=step_run.pk).update(status="waiting")  # as if undone
    step_run_execute(step_run_id=step_run.pk, now=NOW)
    delivery = Delivery.objects.get()
    delivery_attempt(delivery_id=delivery.pk, now=NOW)
    delivery_attempt(delivery_id=delivery.pk, now=NOW)

    assert len(receiver.received) == 1


def test_a_first_score_reads_not_scored_and_first_score_in_the_texts():
    """An account's first score has no band before it and no change: the sentence of a
    task reads whole ("moved from Not scored to At-risk (score 30.0, first score)")."""
    from types import SimpleNamespace

    from playbooks.matching import band_change_context

    at_risk = SimpleNamespace(name="At-risk")
    first = band_change_context(score=30.0, to_band=at_risk, from_band=None, delta=None)
    assert first == {
        "score": "30.0",
        "band": "At-risk",
        "previous_band": "Not scored",
        "delta": "first score",
    }
    later = band_change_context(
        score=30.0, to_band=at_risk, from_band=SimpleNamespace(name="Healthy"), delta=-60.0
    )
    assert (later["previous_band"], later["delta"]) == ("Healthy", "−60.0")
