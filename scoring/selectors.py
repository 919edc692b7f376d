"""Reads of the scoring app for pages, the API and dashboards.

Callers pass the accounts they may see (``accounts.selectors.accounts_visible_to``);
nothing here decides access.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Account
from scoring.models import (
    AccountHealth,
    Band,
    HealthScore,
    ScoreEvent,
    ScoringComponent,
    ScoringModel,
    Signal,
)

TRENDS = {"7": "trend_7d", "30": "trend_30d", "90": "trend_90d"}


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    metric_key: str
    unit: str
    rollup: str
    rule: str
    weight: float
    raw: float | None
    score: float | None
    contribution: float | None
    had_data: bool


def score_breakdown(*, health_score: HealthScore) -> list[BreakdownRow]:
    """The scorecard of one computation: metric, weight, raw value, score, contribution."""
    model = health_score.model
    components = list(
        ScoringComponent.objects.filter(model=model)
        .select_related("metric")
        .order_by("position", "id")
    )
    pairs = health_score.breakdown or []
    present_weight = sum(
        float(c.weight) for c, pair in zip(components, pairs, strict=False) if pair[1] is not None
    )
    rows = []
    for component, (raw, score) in zip(components, pairs, strict=False):
        if score is None:
            contribution = None
        elif model.kind == ScoringModel.Kind.WEIGHTED:
            contribution = (
                score * float(component.weight) / present_weight if present_weight else None
            )
        else:
            contribution = score
        rows.append(
            BreakdownRow(
                label=component.display_label,
                metric_key=component.metric.key,
                unit=component.metric.unit,
                rollup=component.metric.describe_rollup(),
                rule=component.get_rule_display(),
                weight=float(component.weight),
                raw=raw,
                score=score,
                contribution=contribution,
                had_data=raw is not None,
            )
        )
    return rows


def score_history(
    *, account: Account, days: int = 90, until: dt.datetime | None = None
) -> QuerySet[HealthScore]:
    until = until or timezone.now()
    return (
        HealthScore.objects.filter(
            account=account,
            computed_at__gte=until - dt.timedelta(days=days),
            computed_at__lte=until,
        )
        .select_related("band", "model")
        .order_by("computed_at", "id")
    )


def account_health_get(*, account: Account) -> AccountHealth | None:
    """The account's latest health (score, band, trends), or None if never scored."""
    return (
        AccountHealth.objects.select_related("band", "model", "health_score__model")
        .filter(account=account)
        .first()
    )


def health_scores_between(
    *, account: Account, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> QuerySet[HealthScore]:
    """The account's score history within [since, until], newest first."""
    scores = HealthScore.objects.filter(account=account)
    if since is not None:
        scores = scores.filter(computed_at__gte=since)
    if until is not None:
        scores = scores.filter(computed_at__lte=until)
    return scores.select_related("band", "model").order_by("-computed_at", "-id")


def latest_signals(*, account: Account, limit: int = 15) -> QuerySet[Signal]:
    return (
        Signal.objects.filter(account=account)
        .select_related("metric")
        .order_by("-timestamp", "-id")[:limit]
    )


def account_events(
    *, accounts: QuerySet[Account], since: dt.datetime, kind: str | None = None
) -> QuerySet[ScoreEvent]:
    events = ScoreEvent.objects.filter(account__in=accounts, created_at__gte=since)
    if kind:
        events = events.filter(kind=kind)
    return events.select_related("account", "account__owner", "from_band", "to_band").order_by(
        "-created_at", "-id"
    )


@dataclass(frozen=True)
class BandSlice:
    name: str
    color: str
    is_at_risk: bool
    accounts: int
    arr: float


def book_by_band(*, accounts: QuerySet[Account]) -> list[BandSlice]:
    """Accounts and ARR per band name (across models), plus the unscored, in band order."""
    rows = (
        accounts.values("health__band__name", "health__band__color", "health__band__is_at_risk")
        .annotate(n=Count("pk"), arr=Sum("arr"), low=Sum("health__band__lower"))
        .order_by()
    )
    merged: dict[str, dict] = {}
    for row in rows:
        name = row["health__band__name"] or "Not scored"
        slot = merged.setdefault(
            name,
            {
                "color": row["health__band__color"] or "#94a3b8",
                "risk": bool(row["health__band__is_at_risk"]),
                "n": 0,
                "arr": 0.0,
            },
        )
        slot["n"] += row["n"]
        slot["arr"] += float(row["arr"] or 0)
    order = _band_order()
    slices = [
        BandSlice(name, v["color"], v["risk"], v["n"], v["arr"]) for name, v in merged.items()
    ]
    return sorted(slices, key=lambda s: order.get(s.name, -1e9), reverse=True)


def _band_order() -> dict[str, float]:
    """Band names by their lower bound in active models (highest first on dashboards)."""
    order: dict[str, float] = {}
    for name, lower in Band.objects.filter(model__status=ScoringModel.Status.ACTIVE).values_list(
        "name", "lower"
    ):
        order[name] = max(order.get(name, -1e9), lower if lower is not None else -1e6)
    return order


def arr_at_risk(*, accounts: QuerySet[Account]) -> float:
    total = accounts.filter(health__band__is_at_risk=True).aggregate(arr=Sum("arr"))["arr"]
    return float(total or 0)


def score_distribution(*, accounts: QuerySet[Account], bucket: int = 10) -> list[tuple[int, int]]:
    """How many accounts score in each bucket of ``bucket`` points (0–9, 10–19, … 90–100)."""
    scores = AccountHealth.objects.filter(account__in=accounts, score__isnull=False)
    buckets = []
    for low in range(0, 100, bucket):
        high = low + bucket
        condition = Q(score__gte=low) & (Q(score__lte=100) if high >= 100 else Q(score__lt=high))
        buckets.append((low, condition))
    counts = scores.aggregate(
        **{f"b{low}": Count("pk", filter=condition) for low, condition in buckets},
        below=Count("pk", filter=Q(score__lt=0)),
        above=Count("pk", filter=Q(score__gt=100)),
    )
    return [(low, counts[f"b{low}"]) for low, _ in buckets]


def band_names() -> list[str]:
    """The band names of the active models, highest band first (for filters)."""
    order = _band_order()
    return sorted(order, key=lambda name: order[name], reverse=True)


def grade_for(*, score: float | None):
    """The letter grade (a ``GradeScale`` row) of a 0–100 score, or None."""
    from scoring.models import GradeScale

    if score is None:
        return None
    return GradeScale.objects.filter(lower__lte=score).order_by("-lower").first()


def _signed(value: float) -> str:
    rounded = round(value, 1)
    if rounded == 0:
        return "±0"
    return f"{'+' if rounded > 0 else '−'}{abs(rounded):g}"


def component_labels(*, model_id: int) -> list[str]:
    """The labels of a model version's components, in breakdown order."""
    return [
        c.display_label
        for c in ScoringComponent.objects.filter(model_id=model_id)
        .select_related("metric")
        .order_by("position", "id")
    ]


def delta_summary(
    *, health_score: HealthScore, limit: int = 3, labels: list[str] | None = None
) -> str:
    """What moved a score since the account's previous one, in words: "−14.2: Logins
    −9.1, Open support tickets −5.1". Empty for an account's first score.

    Parts under 0.05 points are left out; past ``limit`` parts the rest are summed as
    "others". A change of model version is named as the cause of the whole change.
    ``labels`` (``component_labels`` of the score's model) saves a query per score in lists.
    """
    delta = health_score.delta
    if not delta:
        return ""
    change = delta.get("change")
    if health_score.score is None:
        return "No score: no component had data."
    if change is None:
        return f"{_signed(health_score.score)}: the first score with data."
    head = _signed(change)
    parts = delta.get("parts")
    if parts is None:
        previous = HealthScore.objects.filter(pk=delta.get("from")).select_related("model").first()
        was = f" ({previous.model} → {health_score.model})" if previous else ""
        return f"{head}: model changed{was}."
    if labels is None:
        labels = component_labels(model_id=health_score.model_id)
    moved = sorted(
        ((label, part) for label, part in zip(labels, parts, strict=False) if abs(part) >= 0.05),
        key=lambda pair: -abs(pair[1]),
    )
    if not moved:
        return f"{head}: no component moved."
    shown = [f"{label} {_signed(part)}" for label, part in moved[:limit]]
    rest = moved[limit:]
    if rest:
        shown.append(f"others {_signed(sum(part for _, part in rest))}")
    return f"{head}: {', '.join(shown)}"
