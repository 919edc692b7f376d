"""Small builders for scoring configuration in tests: a metric, a model with its
components and bands, signals — in the words an admin would use."""

from __future__ import annotations

import datetime as dt

from accounts.models import Account
from scoring.models import Band, Metric, ScoringComponent, ScoringModel, Signal
from scoring.services import scoring_model_activate


def make_metric(key: str, rollup: str = "latest", window_days: int = 30, **kwargs) -> Metric:
    metric, _ = Metric.objects.get_or_create(
        key=key,
        defaults={
            "name": key.replace("_", " ").title(),
            "rollup": rollup,
            "window_days": window_days,
            **kwargs,
        },
    )
    return metric


def make_model(
    key: str,
    *,
    kind: str = "weighted",
    components: list[dict],
    bands: list[tuple],
    activate: bool = True,
    exit_margin: float = 0.0,
    dwell_scorings: int = 1,
    dwell_days: int = 0,
    **filters,
) -> ScoringModel:
    """``components``: dicts with metric (key or Metric), rule, params, weight, missing, default.
    ``bands``: (name, lower) or (name, lower, level).

    Without flap-control arguments the model has none (no margin, a band change counts
    at once), so that tests about other things see every band change; the product's
    defaults are tested where flap control is the subject."""
    model = ScoringModel.objects.create(
        key=key,
        name=key.title(),
        kind=kind,
        exit_margin=exit_margin,
        dwell_scorings=dwell_scorings,
        dwell_days=dwell_days,
        **filters,
    )
    for position, spec in enumerate(components):
        metric = spec["metric"]
        if isinstance(metric, str):
            metric = make_metric(metric)
        elif isinstance(metric, dict):
            metric = make_metric(**metric)
        ScoringComponent.objects.create(
            model=model,
            metric=metric,
            position=position,
            weight=spec.get("weight", 0),
            rule=spec.get("rule", "passthrough"),
            params=spec.get("params", {}),
            missing=spec.get("missing", "skip"),
            default_value=spec.get("default"),
        )
    for name, lower, *level in bands:
        Band.objects.create(
            model=model, name=name, lower=lower, level=level[0] if level else "neutral"
        )
    if activate:
        scoring_model_activate(model=model)
    return model


def add_signal(
    account: Account, metric: Metric | str, value: float, at: dt.datetime, **kwargs
) -> Signal:
    if isinstance(metric, str):
        metric = Metric.objects.get(key=metric)
    return Signal.objects.create(
        account=account, metric=metric, value=value, timestamp=at, **kwargs
    )


def ragged_health(accounts: list[Account], *, draw, unscored_every: int) -> None:
    """Score ``accounts`` with a one-metric model ("usage" passed through; At-risk below
    50, Healthy above), leaving every ``unscored_every``-th account without a signal
    (scored without data: no score); then give each latest health a 30-day change of
    None, −5, 0 or +12.5 drawn from ``draw``, so sorts meet ties and gaps."""
    from scoring.models import AccountHealth
    from scoring.services import scoring_run_create, scoring_run_execute

    usage = make_metric("usage")
    make_model(
        "health",
        components=[{"metric": "usage", "rule": "passthrough", "weight": 100}],
        bands=[("At-risk", None, "at_risk"), ("Healthy", 50, "healthy")],
    )
    now = dt.datetime.now(dt.UTC)
    for i, account in enumerate(accounts):
        if i % unscored_every:
            add_signal(account, usage, draw.choice([10, 40, 80]), now - dt.timedelta(hours=1))
    scoring_run_execute(run=scoring_run_create())
    for health in AccountHealth.objects.order_by("pk"):
        health.trend_30d = draw.choice([None, -5.0, 0.0, 12.5])
        health.save(update_fields=["trend_30d"])
