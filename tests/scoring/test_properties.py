"""The set-based recompute (SQL) agrees with the plain reference (``scoring.engine``) on
randomised metrics, models, bands and signals."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import engine
from scoring.models import Band, HealthScore, Metric, ScoringComponent, ScoringModel, Signal
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory

AS_OF = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
ROLLUPS = ["latest", "sum", "count", "avg", "min", "max", "change_pct", "days_since"]
values = st.one_of(
    st.integers(-5, 20).map(float),
    st.floats(-50, 150, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3)),
)


@st.composite
def components(draw, kind: str):
    rule = draw(
        st.sampled_from(
            ["linear", "steps", "table", "passthrough"] + (["per_unit"] if kind == "points" else [])
        )
    )
    if rule == "linear":
        worst = draw(st.integers(-10, 30))
        best = draw(st.integers(-10, 30).filter(lambda b: b != worst))
        params = {"worst": worst, "best": best}
    elif rule == "steps":
        thresholds = draw(st.lists(st.integers(-5, 20), min_size=1, max_size=4, unique=True))
        score = st.integers(0, 100) if kind == "weighted" else st.integers(-20, 20)
        params = {"steps": [[t, draw(score)] for t in thresholds]}
    elif rule == "table":
        keys = draw(st.lists(st.integers(-5, 20), min_size=1, max_size=5, unique=True))
        score = st.integers(0, 100) if kind == "weighted" else st.integers(-20, 20)
        params = {"table": {str(k): draw(score) for k in keys}}
    elif rule == "per_unit":
        params = {"points": draw(st.integers(-10, 10))}
    else:
        params = {}
    missing = draw(st.sampled_from(["skip", "default"]))
    return {
        "rule": rule,
        "params": params,
        "weight": draw(st.integers(0, 60)),
        "missing": missing,
        "default": float(draw(st.integers(-5, 20))) if missing == "default" else None,
    }


@st.composite
def scenarios(draw):
    n_metrics = draw(st.integers(1, 4))
    metrics = [
        {"rollup": draw(st.sampled_from(ROLLUPS)), "window": draw(st.integers(1, 10))}
        for _ in range(n_metrics)
    ]
    kind = draw(st.sampled_from(["weighted", "points"]))
    comps = [draw(components(kind)) for _ in range(n_metrics)]
    lowers = draw(st.lists(st.integers(-30, 110), min_size=1, max_size=4, unique=True))
    open_below = draw(st.booleans())
    accounts = []
    for _ in range(draw(st.integers(1, 5))):
        signals = []
        for m in range(n_metrics):
            for _ in range(draw(st.integers(0, 6))):
                # Whole hours from 25 days before to 2 days after the moment scored.
                hours = draw(st.integers(-25 * 24, 2 * 24))
                signals.append((m, AS_OF + dt.timedelta(hours=hours), draw(values)))
        accounts.append(signals)
    return metrics, kind, comps, lowers, open_below, accounts


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_recompute_agrees_with_the_reference(scenario):
    metrics, kind, comps, lowers, open_below, accounts = scenario
    with transaction.atomic():
        _check(metrics, kind, comps, lowers, open_below, accounts)
        transaction.set_rollback(True)


def _check(metrics, kind, comps, lowers, open_below, accounts):
    metric_rows = [
        Metric.objects.create(
            key=f"m{i}", name=f"M{i}", rollup=m["rollup"], window_days=m["window"]
        )
        for i, m in enumerate(metrics)
    ]
    model = ScoringModel.objects.create(key="prop", name="Prop", kind=kind, status="active")
    for i, (metric, c) in enumerate(zip(metric_rows, comps, strict=True)):
        ScoringComponent.objects.create(
            model=model,
            metric=metric,
            position=i,
            weight=c["weight"],
            rule=c["rule"],
            params=c["params"],
            missing=c["missing"],
            default_value=c["default"],
        )
    for lower in lowers:
        Band.objects.create(model=model, name=f"from {lower}", lower=lower)
    if open_below:
        Band.objects.create(model=model, name="open", lower=None)

    account_rows = []
    signal_id = 0
    for signals in accounts:
        account = AccountFactory()
        account_rows.append((account, signals))
        for m, at, value in signals:
            signal_id += 1
            Signal.objects.create(account=account, metric=metric_rows[m], value=value, timestamp=at)

    run = scoring_run_execute(run=scoring_run_create(as_of=AS_OF, chunk_size=2))
    assert run.status == "succeeded"

    spec = engine.ModelSpec(
        kind=kind,
        components=tuple(
            engine.ComponentSpec(
                f"m{i}", c["rule"], c["params"], float(c["weight"]), c["missing"], c["default"]
            )
            for i, c in enumerate(comps)
        ),
        bands=tuple(engine.BandSpec(b.name, b.lower, b.id) for b in model.bands.all()),
    )
    stored = {h.account_id: h for h in HealthScore.objects.filter(run=run)}
    assert set(stored) == {a.pk for a, _ in account_rows}
    for account, _ in account_rows:
        observations = {
            f"m{i}": [
                engine.Observation(s.id, s.timestamp, s.value)
                for s in Signal.objects.filter(account=account, metric=metric_rows[i])
            ]
            for i in range(len(metrics))
        }
        rolled = {
            key: engine.rollup(metrics[i]["rollup"], metrics[i]["window"], observations[key], AS_OF)
            for i, key in enumerate(observations)
        }
        expected = engine.score_account(spec, rolled)
        got = stored[account.pk]
        context = (rolled, expected, got.score, got.breakdown)
        assert _close(got.score, expected.score), context
        assert _close(got.completeness, expected.completeness), context
        for (raw, score), component in zip(got.breakdown, expected.components, strict=True):
            assert _close(raw, component.raw), context
            assert _close(score, component.score), context
        near_boundary = expected.score is not None and any(
            abs(expected.score - lower) < 1e-6 for lower in lowers
        )
        if not near_boundary:
            expected_band = expected.band.id if expected.band else None
            assert got.band_id == expected_band, context
