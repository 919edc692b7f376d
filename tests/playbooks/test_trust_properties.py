"""The loop from scores to tasks, held to a small plain reference of its rules on random
score trajectories and playbook settings: flap control (the reference is
``scoring.engine.confirm_band``, itself held to the recompute's SQL), which confirmed
changes are events, entries into a level, cooldown, one open task per step, and work
closed by recovery. Every confirmed entry produces exactly one open task (or a note on
the open one), nothing else produces one, and every task closes when the reference says.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import AT_RISK_LEVELS, RISK_ORDER
from playbooks.models import Playbook, Task
from playbooks.services import playbook_save, score_events_process_all, step_runs_due_execute
from scoring import engine
from scoring.models import HealthScore
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.playbooks.builders import task_step
from tests.scoring.builders import add_signal, make_model

START = dt.datetime(2026, 5, 4, 6, 0, tzinfo=dt.UTC)
BANDS = [
    ("Critical", None, "critical"),
    ("At-risk", 25, "at_risk"),
    ("Neutral", 50, "neutral"),
    ("Healthy", 75, "healthy"),
]


@st.composite
def cases(draw):
    rules = engine.FlapRules(
        exit_margin=draw(st.sampled_from([0.0, 2.0, 5.0])),
        dwell_scorings=draw(st.integers(1, 3)),
        dwell_days=0,
    )
    playbook = {
        "level": draw(st.sampled_from(["neutral", "at_risk", "critical"])),
        "or_worse": draw(st.booleans()),
        "cooldown_days": draw(st.sampled_from([0, 0, 3])),
        "on_recovery": draw(st.sampled_from(["close", "keep"])),
    }
    score = st.one_of(st.integers(0, 100).map(float), st.sampled_from([24.0, 26.0, 49.0, 51.0]))
    trajectory = draw(st.lists(score, min_size=2, max_size=9))
    return rules, playbook, trajectory


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
# Cases the search may not draw: entering twice while the first task is kept open; a
# recovery that resolves it, then a new entry; a wobble the margin absorbs.
@example(
    case=(
        engine.FlapRules(0.0, 1, 0),
        {"level": "at_risk", "or_worse": True, "cooldown_days": 0, "on_recovery": "keep"},
        [60.0, 30.0, 60.0, 20.0],
    )
)
@example(
    case=(
        engine.FlapRules(2.0, 2, 0),
        {"level": "at_risk", "or_worse": True, "cooldown_days": 0, "on_recovery": "close"},
        [60.0, 30.0, 30.0, 80.0, 80.0, 40.0, 40.0],
    )
)
@example(
    case=(
        engine.FlapRules(2.0, 1, 0),
        {"level": "neutral", "or_worse": False, "cooldown_days": 3, "on_recovery": "close"},
        [80.0, 74.0, 76.0, 60.0, 80.0, 60.0],
    )
)
def test_tasks_follow_the_reference_rules(case):
    with transaction.atomic():
        _check(*case)
        transaction.set_rollback(True)


def _check(rules, settings_, trajectory):
    model = make_model(
        "pulse",
        components=[
            {
                "metric": {"key": "pulse", "rollup": "latest"},
                "rule": "passthrough",
                "weight": 100,
            }
        ],
        bands=BANDS,
        exit_margin=rules.exit_margin,
        dwell_scorings=rules.dwell_scorings,
    )
    playbook_save(
        playbook=None,
        fields={
            "name": "Entered",
            "is_active": True,
            "trigger": Playbook.Trigger.LEVEL_ENTERED,
            **settings_,
        },
        steps=[task_step("Call {account}")],
        now=START - dt.timedelta(days=1),
    )
    account = AccountFactory()
    specs = [engine.BandSpec(b.name, b.lower, b.pk) for b in model.bands.all()]
    level_of = {b.pk: b.level for b in model.bands.all()}
    target = RISK_ORDER[settings_["level"]]
    cooldown = dt.timedelta(days=settings_["cooldown_days"])

    # The reference: the confirmed band by flap control, then the playbook's rules.
    state: engine.BandState | None = None
    made: list[dt.datetime] = []  # when each run was made (cooldowns count from them)
    live_runs = 0  # runs not ended by a recovery
    open_task = False  # the step's one open task, or none
    tasks_made = resolved = 0
    for day, value in enumerate(trajectory):
        at = START + dt.timedelta(days=day)
        acted_at = at + dt.timedelta(minutes=1)
        add_signal(account, "pulse", value, at - dt.timedelta(minutes=1))
        scoring_run_execute(run=scoring_run_create(as_of=at))
        score_events_process_all(now=acted_at, dispatch=False)
        step_runs_due_execute(now=acted_at)

        raw = engine.band_for(specs, value)
        before = level_of.get(state.confirmed) if state else None
        state = engine.confirm_band(
            bands=specs,
            rules=rules,
            previous=state,
            same_model=state is not None,
            score=value,
            raw=raw.id if raw else None,
            at=at,
        )
        after = level_of[state.confirmed]
        # Which confirmed changes are events: a first band only when it is risky.
        event = (before is None and after in AT_RISK_LEVELS) or (
            before is not None and after != before
        )
        # A recovery below the playbook's level ends its runs and, by "close", their task.
        recovered = (
            event and before is not None and RISK_ORDER[after] < target <= RISK_ORDER[before]
        )
        if recovered and settings_["on_recovery"] == "close" and live_runs:
            live_runs = 0
            if open_task:
                open_task, resolved = False, resolved + 1
        if settings_["or_worse"]:
            entered = RISK_ORDER[after] >= target and (
                before is None or RISK_ORDER[before] < target
            )
        else:
            entered = after == settings_["level"] and before != settings_["level"]
        cooling = bool(cooldown) and any(when > acted_at - cooldown for when in made)
        if event and entered and not cooling:
            made.append(acted_at)
            live_runs += 1
            if not open_task:  # else: a note on the open one
                open_task, tasks_made = True, tasks_made + 1

        got = HealthScore.objects.filter(account=account).latest("computed_at")
        assert got.confirmed_band_id == state.confirmed, (day, trajectory)
        tasks = Task.objects.filter(account=account)
        context = (day, trajectory, rules, settings_)
        assert tasks.filter(status__in=Task.ACTIVE).count() == int(open_task), context
        assert tasks.count() == tasks_made, context
        assert tasks.filter(status=Task.Status.RESOLVED).count() == resolved, context
