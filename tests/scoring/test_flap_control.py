"""Flap control: a band change counts once the score is past the band's edge by the exit
margin and has held for the dwell; a change of model is a re-baseline. The recompute's
SQL is held to the plain reference (``scoring.engine.confirm_band``) on random scores."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import engine
from scoring.models import AccountHealth, HealthScore, ScoreEvent, ScoringModel
from scoring.services import (
    scoring_model_activate,
    scoring_model_new_version,
    scoring_run_create,
    scoring_run_execute,
)
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_model

START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
BANDS = [("At-risk", 0, "at_risk"), ("Neutral", 50, "neutral"), ("Healthy", 75, "healthy")]


def pulse_model(**rules) -> ScoringModel:
    """Score = the day's average of the "pulse" metric, as is (0–100), missing on a day
    without one. ``rules``: exit_margin, dwell_scorings, dwell_days."""
    return make_model(
        "pulse",
        components=[
            {
                "metric": {"key": "pulse", "rollup": "avg", "window_days": 1},
                "rule": "passthrough",
                "weight": 100,
            }
        ],
        bands=BANDS,
        **rules,
    )


def score_day(accounts_values: dict, day: int) -> None:
    """Give each account its value (None: no signal that day) and recompute on ``day``."""
    at = START + dt.timedelta(days=day)
    for account, value in accounts_values.items():
        if value is not None:
            add_signal(account, "pulse", value, at - dt.timedelta(minutes=1))
    scoring_run_execute(run=scoring_run_create(as_of=at))


def health(account) -> AccountHealth:
    return AccountHealth.objects.select_related("band", "raw_band", "pending_band").get(
        account=account
    )


@pytest.fixture
def acme(db):
    return AccountFactory(name="Acme Analytics")


def test_the_defaults_ask_for_two_points_and_two_scorings(db):
    model = ScoringModel.objects.create(key="new", name="New")
    assert (model.exit_margin, model.dwell_scorings, model.dwell_days) == (2.0, 2, 1)


def test_a_wobble_across_a_boundary_changes_nothing(acme):
    pulse_model(exit_margin=2.0, dwell_scorings=2)
    for day, value in enumerate([50.3, 49.7, 50.1, 49.8, 48.5]):
        score_day({acme: value}, day)
    latest = health(acme)
    assert (latest.raw_band.name, latest.band.name, latest.level) == (
        "At-risk",
        "Neutral",
        "neutral",
    )
    assert latest.pending_band is None
    assert not ScoreEvent.objects.filter(kind="band_changed").exists()
    # The raw bands stay in the history.
    assert [h.band.name for h in HealthScore.objects.order_by("computed_at")] == [
        "Neutral",
        "At-risk",
        "Neutral",
        "At-risk",
        "At-risk",
    ]


def test_a_real_drop_is_pending_for_one_scoring_then_confirmed(acme, client_as, ada):
    pulse_model(exit_margin=2.0, dwell_scorings=2)
    score_day({acme: 80}, 0)
    score_day({acme: 40}, 1)
    latest = health(acme)
    assert (latest.band.name, latest.pending_band.name, latest.pending_count) == (
        "Healthy",
        "At-risk",
        1,
    )
    page = client_as(ada).get(reverse("accounts:detail", args=[acme.pk])).content.decode()
    assert "Pending: entering At-risk (1 of 2 scorings)." in page
    assert not ScoreEvent.objects.filter(kind="band_changed").exists()

    score_day({acme: 41}, 2)
    latest = health(acme)
    assert (latest.band.name, latest.level, latest.pending_band) == ("At-risk", "at_risk", None)
    [event] = ScoreEvent.objects.filter(kind="band_changed")
    assert (event.from_band.name, event.to_band.name, event.rebaseline) == (
        "Healthy",
        "At-risk",
        False,
    )
    assert event.health_score == HealthScore.objects.latest("computed_at")


def test_a_change_of_direction_starts_the_count_again(acme):
    pulse_model(exit_margin=0, dwell_scorings=2)
    score_day({acme: 60}, 0)  # Neutral
    score_day({acme: 90}, 1)  # Healthy pending 1
    score_day({acme: 20}, 2)  # At-risk pending 1: a new pending band
    latest = health(acme)
    assert (latest.band.name, latest.pending_band.name, latest.pending_count) == (
        "Neutral",
        "At-risk",
        1,
    )
    score_day({acme: None}, 3)  # no data: nothing changes, the count is cleared
    assert (health(acme).band.name, health(acme).pending_band) == ("Neutral", None)


def test_a_climb_through_neutral_to_healthy_is_confirmed_step_by_step(acme):
    pulse_model(exit_margin=2.0, dwell_scorings=2)
    score_day({acme: 30}, 0)  # At-risk
    score_day({acme: 70}, 1)  # Neutral: pending 1
    score_day({acme: 90}, 2)  # Healthy, still above At-risk: Neutral is confirmed
    latest = health(acme)
    assert (latest.band.name, latest.raw_band.name) == ("Neutral", "Healthy")
    assert (latest.pending_band, latest.pending_count) == (None, 0)
    score_day({acme: 91}, 3)  # above Neutral: Healthy pending 1
    score_day({acme: 92}, 4)  # … confirmed
    assert health(acme).band.name == "Healthy"
    assert [
        (e.from_band.name if e.from_band else None, e.to_band.name)
        for e in ScoreEvent.objects.filter(kind="band_changed").order_by("id")
    ] == [(None, "At-risk"), ("At-risk", "Neutral"), ("Neutral", "Healthy")]


def test_a_dwell_in_days_waits_for_the_calendar(acme):
    pulse_model(exit_margin=0, dwell_scorings=1, dwell_days=2)
    score_day({acme: 80}, 0)
    score_day({acme: 30}, 1)
    score_day({acme: 30}, 2)
    assert health(acme).band.name == "Healthy"
    score_day({acme: 30}, 3)
    assert health(acme).band.name == "At-risk"


def test_recomputing_twice_in_a_minute_does_not_make_a_dwell_of_days(acme):
    pulse_model(exit_margin=0, dwell_scorings=2, dwell_days=1)
    score_day({acme: 80}, 0)
    at = START + dt.timedelta(days=1)
    add_signal(acme, "pulse", 30, at - dt.timedelta(minutes=5))
    for minutes in range(4):
        scoring_run_execute(run=scoring_run_create(as_of=at + dt.timedelta(minutes=minutes)))
    assert (health(acme).band.name, health(acme).pending_count) == ("Healthy", 4)


def test_a_nightly_run_a_little_earlier_than_the_night_before_still_makes_a_day(acme):
    pulse_model(exit_margin=0, dwell_scorings=2, dwell_days=1)
    score_day({acme: 80}, 0)
    score_day({acme: 30}, 1)  # pending since 06:00
    at = START + dt.timedelta(days=2, minutes=-5)  # 05:55 the next night
    add_signal(acme, "pulse", 30, at - dt.timedelta(minutes=1))
    scoring_run_execute(run=scoring_run_create(as_of=at))
    assert health(acme).band.name == "At-risk"


def test_activating_a_reweighted_version_is_a_rebaseline(acme):
    model = pulse_model(exit_margin=2.0, dwell_scorings=2)
    score_day({acme: 60}, 0)
    draft = scoring_model_new_version(model=model)
    draft.bands.filter(name="Neutral").update(lower=65)  # 60 is At-risk under v2
    scoring_model_activate(model=draft)
    score_day({acme: 60}, 1)

    latest = health(acme)
    assert (latest.band.name, latest.rebaseline, latest.model) == ("At-risk", True, draft)
    [event] = ScoreEvent.objects.filter(kind="band_changed")
    assert (event.from_band.name, event.to_band.name, event.rebaseline) == (
        "Neutral",
        "At-risk",
        True,
    )
    score_day({acme: 60}, 2)  # the next scoring under v2 is an ordinary one
    assert health(acme).rebaseline is False
    assert ScoreEvent.objects.filter(kind="band_changed").count() == 1


# --- The SQL against the reference -------------------------------------------------------


@st.composite
def trajectories(draw):
    lowers = sorted(draw(st.lists(st.integers(5, 95), min_size=1, max_size=3, unique=True)))
    rules = engine.FlapRules(
        exit_margin=draw(st.sampled_from([0.0, 0.5, 2.0, 5.0])),
        dwell_scorings=draw(st.integers(1, 3)),
        dwell_days=draw(st.integers(0, 3)),
    )
    steps = draw(st.integers(2, 9))
    gaps = [draw(st.integers(1, 2)) for _ in range(steps)]
    value = st.one_of(st.none(), st.integers(0, 100).map(float), st.sampled_from(lowers))
    accounts = [[draw(value) for _ in range(steps)] for _ in range(draw(st.integers(1, 3)))]
    new_version_at = draw(st.one_of(st.none(), st.integers(1, steps - 1)))
    return lowers, rules, gaps, accounts, new_version_at


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=trajectories())
def test_the_recompute_confirms_bands_as_the_reference_does(case):
    with transaction.atomic():
        _check(*case)
        transaction.set_rollback(True)


def _check(lowers, rules, gaps, trajectories, new_version_at):
    model = make_model(
        "pulse",
        components=[
            {
                "metric": {"key": "pulse", "rollup": "avg", "window_days": 1},
                "rule": "passthrough",
                "weight": 100,
            }
        ],
        bands=[("Low", None, "critical")]
        + [(f"From {lower}", lower, "neutral") for lower in lowers],
        exit_margin=rules.exit_margin,
        dwell_scorings=rules.dwell_scorings,
        dwell_days=rules.dwell_days,
    )
    accounts = [AccountFactory() for _ in trajectories]
    states: dict[int, engine.BandState | None] = {a.pk: None for a in accounts}
    models: dict[int, int | None] = {a.pk: None for a in accounts}
    confirmed_names: dict[int, list[str | None]] = {a.pk: [] for a in accounts}
    day = 0
    for step, gap in enumerate(gaps):
        if step == new_version_at:
            model = scoring_model_activate(model=scoring_model_new_version(model=model))
        day += gap
        at = START + dt.timedelta(days=day)
        score_day({a: values[step] for a, values in zip(accounts, trajectories, strict=True)}, day)
        specs = [engine.BandSpec(b.name, b.lower, b.pk) for b in model.bands.all()]
        for account, values in zip(accounts, trajectories, strict=True):
            row = HealthScore.objects.get(account=account, computed_at=at)
            raw = engine.band_for(specs, values[step])
            expected = engine.confirm_band(
                bands=specs,
                rules=rules,
                previous=states[account.pk],
                same_model=models[account.pk] == model.pk,
                score=values[step],
                raw=raw.id if raw else None,
                at=at,
            )
            got = (
                row.band_id,
                row.confirmed_band_id,
                row.pending_band_id,
                row.pending_count,
                row.pending_since,
                row.rebaseline,
            )
            assert got == (
                raw.id if raw else None,
                expected.confirmed,
                expected.pending,
                expected.count,
                expected.since,
                expected.rebaseline,
            ), (step, values, rules)
            states[account.pk], models[account.pk] = expected, model.pk
            confirmed_names[account.pk].append(
                next((s.name for s in specs if s.id == expected.confirmed), None)
            )
    # A band-change event for each change of the confirmed band between two scorings; a
    # first band (after none) only when it is a risky level.
    risky = {b.name for b in model.bands.all() if b.level in ("at_risk", "critical")}
    for account in accounts:
        changes, before = 0, None
        for after in confirmed_names[account.pk]:
            if before is None:
                changes += after in risky
            elif after != before:
                changes += 1
            before = after
        events = ScoreEvent.objects.filter(account=account, kind="band_changed").count()
        assert events == changes, (confirmed_names[account.pk], trajectories, rules)
