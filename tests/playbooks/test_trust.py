"""Alerts a CSM can trust: every account that turns risky gets one right task, no alarm
comes from noise or configuration, and work closes itself.

The book is the personas' (Alice and Bob on Maggie's Enterprise team, Charlie on Mark's
SMB team). The usage model scores logins × 5: 18 logins score 90 (Healthy), 12 score 60
(Neutral), 6 score 30 (At-risk).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.services import account_upsert
from accounts.tokens import api_token_create
from playbooks.models import (
    Delivery,
    Note,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    Task,
    WebhookEndpoint,
)
from playbooks.services import (
    due_work_dispatch,
    playbook_backfill,
    playbook_save,
    score_events_process_all,
    state_triggers_evaluate,
    step_runs_due_execute,
    task_reassign,
    task_snooze,
)
from scoring.models import ScoreEvent
from scoring.services import (
    recompute_now,
    scoring_model_activate,
    scoring_model_new_version,
)
from tests.factories import AccountFactory
from tests.playbooks.builders import NOW, TODAY, healthy_then, score, score_each, task_step
from tests.scoring.builders import add_signal, make_model

pytestmark = pytest.mark.django_db


def playbook(name: str = "Entered At risk or worse", steps=None, **fields) -> Playbook:
    """A playbook made through its one write path (switched on at NOW − 30 days unless
    told), by default: entered At risk or worse → a task for the owner."""
    fields.setdefault("trigger", Playbook.Trigger.LEVEL_ENTERED)
    if fields["trigger"] == Playbook.Trigger.LEVEL_ENTERED:
        fields.setdefault("level", "at_risk")
    fields.setdefault("cooldown_days", 0)
    enabled = fields.pop("enabled_at", NOW - dt.timedelta(days=30))
    return playbook_save(
        playbook=None,
        fields={"name": name, "is_active": True, **fields},
        steps=steps if steps is not None else [task_step("Call {account}: now {band}")],
        now=enabled,
    )


def act(now: dt.datetime = NOW) -> None:
    """What the workers do after a recompute: events to runs, due steps, the tick."""
    score_events_process_all(now=now, dispatch=False)
    state_triggers_evaluate(now=now, dispatch=False)
    step_runs_due_execute(now=now)


def open_tasks(account: Account | None = None):
    tasks = Task.objects.filter(status__in=Task.ACTIVE)
    return tasks.filter(account=account) if account is not None else tasks


# --- One risk vocabulary ------------------------------------------------------------------


def test_an_enterprise_points_model_speaks_the_same_levels(usage, book):
    """The demo's at-risk playbook named the standard model's band "At-risk"; an
    enterprise model calls its risky bands Struggling and Critical. A level trigger
    catches both."""
    make_model(
        "enterprise",
        kind="points",
        components=[{"metric": "logins", "rule": "per_unit", "params": {"points": 5}}],
        bands=[
            ("Critical", None, "critical"),
            ("Struggling", 0, "at_risk"),
            ("Stable", 26, "neutral"),
            ("Thriving", 51, "healthy"),
        ],
        segment="enterprise",
    )
    big = AccountFactory(name="Meteor Travel", owner=book["alice"].owner, segment="enterprise")
    big.arr = Decimal("1075000")
    big.save(update_fields=["arr"])
    at_risk = playbook()
    by_name = playbook("Became At-risk", trigger="band_changed", to_band_name="At-risk")
    healthy_then([book["alice"], big], 2)  # Acme: 10 (At-risk); Meteor: 10 points (Struggling)

    act()

    assert sorted(
        PlaybookRun.objects.filter(playbook=at_risk).values_list("account__name", "level")
    ) == [("Acme Analytics", "at_risk"), ("Meteor Travel", "at_risk")]
    assert list(
        PlaybookRun.objects.filter(playbook=by_name).values_list("account__name", flat=True)
    ) == ["Acme Analytics"]
    assert open_tasks(big).get().title == "Call Meteor Travel: now Struggling"


def test_an_account_that_starts_at_risk_is_an_entry_too(usage, book):
    at_risk = playbook()
    score(book["charlie"], 6, at=NOW)  # its first score: At-risk

    act()

    [run] = PlaybookRun.objects.filter(playbook=at_risk)
    assert (run.account, run.score_event.from_band) == (book["charlie"], None)


# --- Flap control ------------------------------------------------------------------------------


def test_a_wobble_across_a_boundary_raises_no_task_and_sends_no_webhook(db, book, receiver):
    """0.6 points either side of 50, four recomputes in a minute: with the default flap
    control (2 points, 2 scorings over a day) the account stays Neutral."""
    make_model(
        "usage",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 100,
            }
        ],
        bands=[("At-risk", 0, "at_risk"), ("Neutral", 50, "neutral"), ("Healthy", 75, "healthy")],
        exit_margin=2.0,
        dwell_scorings=2,
        dwell_days=1,
    )
    WebhookEndpoint.objects.create(name="CRM", url=receiver.url, events=["account.band_changed"])
    playbook()
    acme = book["alice"]
    for minute, logins in enumerate([10.06, 9.94, 10.06, 9.94]):  # 50.3, 49.7, 50.3, 49.7
        add_signal(acme, "logins", logins, NOW + dt.timedelta(minutes=minute))
        recompute_now(account=acme)
        act(now=NOW + dt.timedelta(minutes=minute, seconds=30))

    assert not ScoreEvent.objects.filter(kind="band_changed").exists()
    assert not Task.objects.exists()
    assert not Delivery.objects.exists()
    assert acme.health.band.name == "Neutral"


# --- No alarms from configuration -------------------------------------------------------------


def test_activating_a_reweighted_version_raises_no_alarm(usage, book, receiver):
    WebhookEndpoint.objects.create(
        name="CRM",
        url=receiver.url,
        events=["account.band_changed", "account.score_dropped", "account.rebaselined"],
    )
    playbook()
    playbook("Below 60", trigger="score_below", score_threshold=60, cooldown_days=30)
    playbook("Dropped", trigger="score_dropped", drop_points=10, within_days=7)
    score_each({book["alice"]: 12, book["bob"]: 12, book["charlie"]: 16}, at=NOW)  # 60, 60, 80
    act()
    assert not Task.objects.exists()

    draft = scoring_model_new_version(model=usage)
    draft.components.update(params={"worst": 0, "best": 30})  # the same logins score less
    scoring_model_activate(model=draft, now=NOW + dt.timedelta(hours=1))
    for hours in (2, 26):  # two recomputes, nothing new in the data
        score_each({}, at=NOW + dt.timedelta(hours=hours))
        act(now=NOW + dt.timedelta(hours=hours, minutes=5))

    changes = ScoreEvent.objects.filter(kind="band_changed")
    assert changes.count() == 3 and all(e.rebaseline for e in changes)  # 60→40, 80→53
    assert not Task.objects.exists()
    assert set(PlaybookRun.objects.values_list("status", flat=True)) <= {"skipped"}
    assert set(Delivery.objects.values_list("event", flat=True)) == {"account.rebaselined"}


def test_a_playbook_can_opt_in_to_rebaselines(usage, book):
    opted = playbook(on_rebaseline=True)
    score(book["alice"], 12, at=NOW)
    draft = scoring_model_new_version(model=usage)
    draft.components.update(params={"worst": 0, "best": 30})
    scoring_model_activate(model=draft)
    score(book["alice"], 12, at=NOW + dt.timedelta(hours=2))
    act(now=NOW + dt.timedelta(hours=3))
    assert PlaybookRun.objects.get(playbook=opted).status == "done"


def test_a_new_account_created_playbook_is_not_retroactive(db, book):
    Account.objects.update(created_at=NOW - dt.timedelta(hours=2))
    created = playbook("Welcome", trigger="account_created", enabled_at=NOW)

    state_triggers_evaluate(now=NOW + dt.timedelta(minutes=1), dispatch=False)
    assert not PlaybookRun.objects.exists()

    later = AccountFactory(name="Delta Dynamics")
    Account.objects.filter(pk=later.pk).update(created_at=NOW + dt.timedelta(minutes=5))
    state_triggers_evaluate(now=NOW + dt.timedelta(minutes=6), dispatch=False)
    assert list(PlaybookRun.objects.values_list("account__name", flat=True)) == ["Delta Dynamics"]

    # Backfilling is an explicit action, counted first.
    dry = playbook_backfill(
        playbook=created,
        since=NOW - dt.timedelta(days=1),
        now=NOW + dt.timedelta(minutes=7),
        dry_run=True,
    )
    assert (dry.runs, PlaybookRun.objects.count()) == (3, 1)
    done = playbook_backfill(
        playbook=created,
        since=NOW - dt.timedelta(days=1),
        now=NOW + dt.timedelta(minutes=7),
        dry_run=False,
    )
    assert (done.runs, PlaybookRun.objects.count()) == (3, 4)


def test_a_re_enabled_playbook_acts_from_then_on(usage, book):
    at_risk = playbook()
    playbook_save(playbook=at_risk, fields={"is_active": False}, steps=None)
    healthy_then(book["alice"], 6)  # At-risk while it is off
    at_risk = playbook_save(
        playbook=at_risk, fields={"is_active": True}, steps=None, now=NOW + dt.timedelta(hours=1)
    )
    act(now=NOW + dt.timedelta(hours=2))
    assert not PlaybookRun.objects.exists()
    assert at_risk.enabled_at == NOW + dt.timedelta(hours=1)


# --- No duplicate work --------------------------------------------------------------------------


def test_score_below_with_no_cooldown_adds_to_the_open_task(usage, book):
    below = playbook("Below 40", trigger="score_below", score_threshold=40)
    acme = book["alice"]
    for day in range(3):
        score(acme, 6, at=NOW + dt.timedelta(days=day))
        act(now=NOW + dt.timedelta(days=day, minutes=5))

    assert PlaybookRun.objects.filter(playbook=below).count() == 3  # each computation fired
    [task] = open_tasks(acme)
    notes = list(
        Note.objects.filter(task=task).order_by("created_at").values_list("body", flat=True)
    )
    assert notes == [
        "Triggered again on 21 Nov 2026 by “Below 40” (At-risk, score 30.0).",
        "Triggered again on 22 Nov 2026 by “Below 40” (At-risk, score 30.0).",
    ]


def test_two_runs_of_one_step_never_make_two_open_tasks(usage, book):
    """Even when both runs were made before either task existed: two drops of 20 points
    in a row, processed in one batch (no cooldown)."""
    dropped = playbook("Dropped", trigger="score_dropped", drop_points=10, within_days=7)
    acme = book["alice"]
    score(acme, 18, at=NOW - dt.timedelta(days=2))  # 90
    score(acme, 14, at=NOW - dt.timedelta(days=1))  # 70
    score(acme, 10, at=NOW)  # 50
    score_events_process_all(now=NOW, dispatch=False)
    assert PlaybookRun.objects.filter(playbook=dropped).count() == 2
    step_runs_due_execute(now=NOW)
    [task] = open_tasks(acme)
    assert task.notes.get().body.startswith("Triggered again on 20 Nov 2026 by “Dropped”")


# --- Work closes itself -------------------------------------------------------------------------


def test_recovering_resolves_the_runs_open_tasks(usage, book):
    playbook(steps=[task_step("Call {account}"), task_step("Plan for {account}", wait_days=3)])
    acme = book["alice"]
    healthy_then(acme, 6)
    act()
    [task] = open_tasks(acme)

    score(acme, 18, at=NOW + dt.timedelta(days=1))  # back to Healthy
    act(now=NOW + dt.timedelta(days=1, minutes=5))

    task.refresh_from_db()
    assert (task.status, task.close_reason) == ("resolved", "Resolved: back to Healthy on 21 Nov")
    run = PlaybookRun.objects.get()
    assert run.status == "resolved"
    step_runs_due_execute(now=NOW + dt.timedelta(days=5))  # the plan step never comes
    assert Task.objects.count() == 1


def test_recovering_within_the_risky_levels_is_no_recovery(usage, book):
    """Entered At risk or worse at Critical; back to At risk is still at risk."""
    usage.bands.filter(name="At-risk").update(lower=25)
    from scoring.models import Band

    Band.objects.create(model=usage, name="Critical", lower=None, level="critical")
    playbook()
    acme = book["alice"]
    healthy_then(acme, 2)  # 10: Critical
    act()
    score(acme, 6, at=NOW + dt.timedelta(days=1))  # 30: At-risk
    act(now=NOW + dt.timedelta(days=1, minutes=5))
    assert open_tasks(acme).count() == 1


@pytest.mark.parametrize(
    ("on_recovery", "status", "notes"), [("keep", "open", 0), ("notify", "open", 1)]
)
def test_a_playbook_may_keep_or_only_notify(usage, book, alice, on_recovery, status, notes):
    playbook(on_recovery=on_recovery)
    acme = book["alice"]
    healthy_then(acme, 6)
    act()
    score(acme, 18, at=NOW + dt.timedelta(days=1))
    act(now=NOW + dt.timedelta(days=1, minutes=5))
    task = Task.objects.get()
    assert task.status == status
    assert task.notes.count() == notes
    emails = Delivery.objects.filter(channel="email", event="task.recovered")
    assert emails.count() == notes
    if notes:
        assert "Acme Analytics recovered: back to Healthy on 21 Nov" in task.notes.get().body
        assert emails.get().target == alice.email


def test_churning_cancels_the_open_work_and_leaves_the_queues(usage, book, client_as, alice):
    playbook()
    acme = book["alice"]
    healthy_then(acme, 6)
    act()
    manual = Task.objects.create(
        account=acme, title="Send the QBR deck", due_date=TODAY, assignee=alice
    )

    assert client_as(alice).get(reverse("playbooks:queue")).context["queue"].total == 2
    account_upsert(external_id="acme", churned_at=TODAY)
    # Out of the queue at once; closed with a reason by the next tick.
    assert client_as(alice).get(reverse("playbooks:queue")).context["queue"].total == 0
    due_work_dispatch(now=NOW + dt.timedelta(minutes=1))

    assert set(Task.objects.values_list("status", "close_reason")) == {
        ("cancelled", "Account churned on 20 Nov")
    }
    manual.refresh_from_db()
    assert manual.closed_at is not None
    assert PlaybookRun.objects.get().status in ("done", "cancelled")


def test_churned_arr_is_shown_apart_from_arr_at_risk(usage, book, client_as, maggie):
    acme, borealis = book["alice"], book["bob"]
    for account, arr in ((acme, 50_000), (borealis, 80_000)):
        account.arr = arr
        account.save(update_fields=["arr"])
    score_each({acme: 6, borealis: 6}, at=NOW)  # both At-risk
    Account.objects.filter(pk=borealis.pk).update(churned_at=dt.date(2026, 10, 1))

    page = client_as(maggie).get(reverse("home"))

    assert page.context["arr_at_risk"] == 50_000
    assert (page.context["churned_accounts"], page.context["churned_arr"]) == (1, 80_000)
    levels = {s.level: s.accounts for s in page.context["level_slices"]}
    assert levels["at_risk"] == 1
    at_risk_list = client_as(maggie).get(reverse("accounts:list"), {"level": "at_risk"})
    assert [a.name for a in at_risk_list.context["page"]] == ["Acme Analytics"]


# --- Figures that are right -----------------------------------------------------------------


def test_the_home_page_shows_each_models_scores_on_its_own_scale(usage, book, client_as, ada):
    make_model(
        "impact",
        kind="points",
        components=[{"metric": "logins", "rule": "per_unit", "params": {"points": 10}}],
        bands=[
            ("Critical", None, "critical"),
            ("Stable", 0, "neutral"),
            ("Superstar", 100, "healthy"),
        ],
        segment="enterprise",
    )
    low = AccountFactory(name="Low", segment="enterprise")
    high = AccountFactory(name="High", segment="enterprise")
    score_each({low: -3, high: 14, book["alice"]: 10}, at=NOW)  # −30 and 140 points; 50

    page = client_as(ada).get(reverse("home"))

    by_model = {d["model"].key: d for d in page.context["distributions"]}
    impact = by_model["impact"]["buckets"]
    assert impact[0].low <= -30 and impact[-1].high > 140
    assert sum(b.count for b in impact) == 2
    colours = {b.band: b.color for b in impact if b.count}
    assert set(colours) == {"Critical", "Superstar"}
    assert sum(b.count for b in by_model["usage"]["buckets"]) == 1


def test_band_changes_read_with_their_real_decimals(usage, book, client_as, maggie):
    acme, borealis = book["alice"], book["bob"]
    usage.bands.filter(name="Healthy").update(lower=75.0)
    now = timezone.now()
    score_each({acme: 10.126, borealis: 15.01}, at=now - dt.timedelta(days=1))  # 50.63, 75.05
    score_each({acme: 9.998, borealis: 14.992}, at=now)  # 49.99, 74.96
    body = client_as(maggie).get(reverse("home")).content.decode()
    assert "50.6 → 49.9" in body and "75.0 → 74.9" in body
    assert "51 → 50" not in body and "75 → 75" not in body


def test_the_not_scored_tile_opens_a_list(usage, book, client_as, maggie):
    score(book["alice"], 12, at=NOW)
    page = client_as(maggie).get(reverse("home")).content.decode()
    assert 'href="/accounts/?level=unscored"' in page
    listing = client_as(maggie).get("/accounts/?level=unscored")
    assert listing.status_code == 200
    assert [a.name for a in listing.context["page"]] == ["Borealis Bank"]
    assert "Select a valid choice" not in listing.content.decode()


def test_task_text_and_page_tell_the_same_change(usage, book, client_as, alice):
    """A change of −1.86 read "−1.8" in task text (cut) and "−1.9" on the page (rounded)."""
    usage.bands.filter(name="Neutral").update(lower=59)
    playbook(steps=[task_step("Call {account}", task_description="Score {score} ({delta}).")])
    acme = book["alice"]
    score(acme, 12, at=NOW - dt.timedelta(days=1))  # 60
    score(acme, 11.628, at=NOW)  # 58.14
    act()
    task = Task.objects.get()
    page = client_as(alice).get(acme.get_absolute_url()).content.decode()
    assert task.description == "Score 58.1 (−1.9)."
    assert "−1.9: Logins −1.9" in page


def test_an_expired_snooze_reads_the_same_on_pages_and_in_the_api(usage, book, alice, client_as):
    acme = book["alice"]
    task = Task.objects.create(
        account=acme, title="Call", due_date=TODAY - dt.timedelta(days=10), assignee=alice
    )
    task_snooze(
        task=task, until=TODAY - dt.timedelta(days=1), by=alice, now=NOW - dt.timedelta(days=5)
    )
    _, raw = api_token_create(name="Alice's", scopes=["tasks:read"], user=alice)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get(f"/api/v1/tasks/{task.pk}/").json()
    assert (body["status"], body["due_date"], body["snoozed_until"]) == (
        "open",
        (TODAY - dt.timedelta(days=1)).isoformat(),
        None,
    )
    listed = api.get("/api/v1/tasks/", {"status": "open"}).json()["results"]
    assert [t["id"] for t in listed] == [task.pk]
    card = client_as(alice).get(reverse("playbooks:queue")).content.decode()
    assert "Snoozed until" not in card and "(back from a snooze)" in card

    due_work_dispatch(now=NOW)  # the tick wakes it for good
    task.refresh_from_db()
    assert (task.status, task.due_date, task.snoozed_until) == (
        "open",
        TODAY - dt.timedelta(days=1),
        None,
    )


def test_work_given_to_someone_opens_its_account_for_them(
    usage, book, alice, charlie, ada, client_as
):
    acme = book["alice"]
    task = Task.objects.create(
        account=acme, title="Ask Charlie's help", due_date=TODAY, assignee=alice
    )
    task_reassign(task=task, to=charlie, by=ada, now=NOW)

    page = client_as(charlie).get(acme.get_absolute_url())

    assert page.status_code == 200
    assert "Ask Charlie&#x27;s help" in page.content.decode()
    assert 'id="recompute-now"' not in page.content.decode()  # it is not in his book
    assert client_as(charlie).get(book["bob"].get_absolute_url()).status_code == 404
    listed = client_as(charlie).get(reverse("accounts:list")).context["page"]
    assert [a.name for a in listed] == ["Cobalt Cafe"]


def test_playbook_steps_are_kept_in_order(usage):
    """(The builders' steps go through the one write path too.)"""
    made = playbook(steps=[task_step("First"), task_step("Second", wait_days=1)])
    assert list(made.steps.values_list("position", "task_title")) == [(1, "First"), (2, "Second")]
    assert PlaybookStep.objects.count() == 2
