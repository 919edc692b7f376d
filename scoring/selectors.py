"""Reads of the scoring app for pages, the API and dashboards.

Callers pass the accounts they may see (``accounts.selectors.accounts_visible_to``);
nothing here decides access.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.utils import timezone

from accounts.models import RISK_COLORS, Account, RiskLevel
from scoring.engine import BandSpec, band_for
from scoring.figures import BookFigures
from scoring.formatting import format_delta
from scoring.models import (
    AccountHealth,
    Band,
    CsmSentiment,
    HealthScore,
    ScoreEvent,
    ScoringComponent,
    ScoringModel,
    ScoringRun,
    Signal,
    rollup_unit,
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


def model_components(*, model_id: int) -> list[ScoringComponent]:
    """A model version's components with their metrics, in breakdown order (one query)."""
    return list(
        ScoringComponent.objects.filter(model_id=model_id)
        .select_related("metric")
        .order_by("position", "id")
    )


def score_breakdown(
    *, health_score: HealthScore, components: list[ScoringComponent] | None = None
) -> list[BreakdownRow]:
    """The scorecard of one computation: metric, weight, raw value, score, contribution.
    ``components`` (``model_components`` of the score's model) saves their query."""
    model = health_score.model
    if components is None:
        components = model_components(model_id=health_score.model_id)
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
                # The unit of the rolled-up value: "32.4 days" since the last meeting,
                # not "32.4 meetings".
                unit=rollup_unit(component.rollup, component.metric.unit),
                rollup=component.describe_rollup(),
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


# What a page shows of the latest health, loaded with it: the bands, the model, the score.
HEALTH_RELATED = ("band", "raw_band", "pending_band", "model", "health_score__model")
# The same, loaded with the account: ``Account.objects.select_related(*ACCOUNT_HEALTH_RELATED)``
# lets ``account_health_get`` answer without a query.
ACCOUNT_HEALTH_RELATED = tuple(f"health__{name}" for name in HEALTH_RELATED)


def account_health_get(*, account: Account) -> AccountHealth | None:
    """The account's latest health (score, band, trends), or None if never scored.
    No query when it was loaded with the account (``ACCOUNT_HEALTH_RELATED``)."""
    relation = cast(ForeignObjectRel, Account._meta.get_field("health"))
    if relation.is_cached(account):
        # RelatedObjectDoesNotExist (an AttributeError) when the join found none.
        return getattr(account, "health", None)
    return AccountHealth.objects.select_related(*HEALTH_RELATED).filter(account=account).first()


def health_scores_between(
    *, account: Account, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> QuerySet[HealthScore]:
    """The account's score history within [since, until], newest first."""
    scores = HealthScore.objects.filter(account=account)
    if since is not None:
        scores = scores.filter(computed_at__gte=since)
    if until is not None:
        scores = scores.filter(computed_at__lte=until)
    return scores.select_related("band", "confirmed_band", "model").order_by("-computed_at", "-id")


def sentiments_recent(*, account: Account, limit: int = 50) -> list[CsmSentiment]:
    """The account's newest ``limit`` CSM sentiments with their authors, newest first;
    one query that the account page's sentiment card and its timeline share."""
    return list(
        CsmSentiment.objects.filter(account=account)
        .select_related("author")
        .order_by("-created_at", "-id")[:limit]
    )


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
class LevelSlice:
    """Customers and their ARR at one risk level (``level`` "" for those not scored)."""

    level: str
    label: str
    color: str
    accounts: int
    arr: float

    @property
    def query(self) -> str:
        return f"level={self.level or UNSCORED}"


UNSCORED = "unscored"
UNSCORED_COLOR = "#94a3b8"


def book_by_level(*, figures: BookFigures) -> list[LevelSlice]:
    """The customers and their ARR per risk level of the confirmed band, best level
    first, then those not scored, from the book's ``figures`` (``scoring.figures``,
    grouped by a key that includes the level). Accounts that have churned are not in
    it (``churned_book``)."""
    slices = []
    for level, label in [*RiskLevel.choices, ("", "Not scored")]:
        tally = figures.total("customers", level=level)
        color = RISK_COLORS[level] if level else UNSCORED_COLOR
        slices.append(LevelSlice(level, label, color, tally.accounts, float(tally.arr)))
    return slices


def churned_book(*, figures: BookFigures) -> tuple[int, float]:
    """How many accounts of the book's ``figures`` had churned by their day, and the ARR
    they took."""
    tally = figures.total("churned")
    return tally.accounts, float(tally.arr)


@dataclass(frozen=True)
class Bucket:
    low: float
    high: float
    count: int
    color: str
    band: str

    @property
    def label(self) -> str:
        return f"{self.low:g}"


@dataclass(frozen=True)
class Distribution:
    """How one model version's scores spread, on its own scale, coloured by its bands."""

    model: ScoringModel
    accounts: int
    buckets: list[Bucket]


# Whole-point bucket widths only: every bucket starts on a whole point, so counts per
# whole point (the book's figures) give each bucket exactly, with integer arithmetic.
_NICE_FACTORS = (1, 2, 2.5, 5)


def _nice_step(span: int, buckets: int = 10) -> int:
    """The smallest of 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, … that cuts ``span``
    whole points into at most ``buckets`` buckets (2.5 is left out: not a whole point)."""
    scale = 1
    while True:
        for factor in _NICE_FACTORS:
            width = scale * factor
            if width == int(width) and span / width <= buckets:
                return int(width)
        scale *= 10


def score_scale(*, kind: str, lowest: int, highest: int) -> tuple[int, int, int]:
    """(low, width, buckets) of a distribution whose scores' floors run from ``lowest``
    to ``highest``: a weighted model reads 0–100 in tens; a points model its own range
    in buckets of a round whole-point width, the first starting at a multiple of it.
    Bucket i holds the scores s with ``low + i·width <= s < low + (i+1)·width``, that
    is ``(floor(s) − low) // width == i``: exact in integers."""
    if kind == ScoringModel.Kind.WEIGHTED:
        return 0, 10, 10
    step = _nice_step(max(highest - lowest, 1))
    low = (lowest // step) * step
    return low, step, (highest - low) // step + 1


def score_distributions(*, buckets: dict[int, dict[int, int]]) -> list[Distribution]:
    """Per model version that scored the customers in a scope, their latest scores in
    buckets, from the counts per whole point of the book's figures
    (``scoring.figures.score_figures``): ``{model_id: {floor(score): accounts}}``. Scales
    as ``score_scale`` says (scores below 0 or above 100 of a points model included; a
    weighted model's 100 joins 90–100). Each bucket takes the colour of the band its
    middle falls in, in that model's bands. Two queries (the models and their bands)."""
    if not buckets:
        return []
    models = {
        m.pk: m for m in ScoringModel.objects.filter(pk__in=list(buckets)).prefetch_related("bands")
    }
    distributions = []
    for model_id in sorted(buckets, key=lambda pk: (str(models[pk]), pk)):
        model = models[model_id]
        cells = buckets[model_id]
        low, step, n = score_scale(kind=model.kind, lowest=min(cells), highest=max(cells))
        counts: dict[int, int] = {}
        for cell, accounts in cells.items():
            index = (cell - low) // step
            counts[index] = counts.get(index, 0) + accounts
        specs = [BandSpec(b.name, b.lower, b.pk) for b in model.bands.all()]
        colors: dict[int | None, str] = {b.pk: b.color for b in model.bands.all()}
        shown = []
        for i in range(n):
            count = counts.get(i, 0)
            if model.kind == ScoringModel.Kind.WEIGHTED and i == n - 1:
                count += counts.get(n, 0)  # a score of 100 joins 90–100
            band = band_for(specs, low + step * (i + 0.5))
            shown.append(
                Bucket(
                    float(low + step * i),
                    float(low + step * (i + 1)),
                    count,
                    colors.get(band.id, UNSCORED_COLOR) if band else UNSCORED_COLOR,
                    band.name if band else "",
                )
            )
        distributions.append(Distribution(model, sum(cells.values()), shown))
    return distributions


def _band_order() -> dict[str, float]:
    """Band names by their lower bound in active models (highest first on dashboards)."""
    order: dict[str, float] = {}
    for name, lower in Band.objects.filter(model__status=ScoringModel.Status.ACTIVE).values_list(
        "name", "lower"
    ):
        order[name] = max(order.get(name, -1e9), lower if lower is not None else -1e6)
    return order


def band_names() -> list[str]:
    """The band names of the active models, highest band first (for filters)."""
    order = _band_order()
    return sorted(order, key=lambda name: order[name], reverse=True)


def band_level(name: str) -> str | None:
    """The risk level that the bands called ``name`` (in any letter case, in any model
    version) stand for, when they are exactly the bands of that level: a filter on the
    band is then a filter on the level. None when they are not (or there are none).
    One query, over the bands (a small table)."""
    from scoring.models import Band

    wanted = name.upper()  # as iexact compares, UPPER() on both sides
    pairs = {(n.upper(), level) for n, level in Band.objects.values_list("name", "level")}
    levels = {level for n, level in pairs if n == wanted}
    if len(levels) != 1:
        return None
    (level,) = levels
    return None if any(lv == level and n != wanted for n, lv in pairs) else level


def grade_for(*, score: float | None):
    """The letter grade (a ``GradeScale`` row) of a 0–100 score, or None."""
    from scoring.models import GradeScale

    if score is None:
        return None
    return GradeScale.objects.filter(lower__lte=score).order_by("-lower").first()


def component_labels(*, model_id: int) -> list[str]:
    """The labels of a model version's components, in breakdown order."""
    return [c.display_label for c in model_components(model_id=model_id)]


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
        return f"{format_delta(health_score.score)}: the first score with data."
    head = format_delta(change)
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
    shown = [f"{label} {format_delta(part)}" for label, part in moved[:limit]]
    rest = moved[limit:]
    if rest:
        shown.append(f"others {format_delta(sum(part for _, part in rest))}")
    return f"{head}: {', '.join(shown)}"


@dataclass(frozen=True)
class PastRunEffect:
    """What a past-dated run did to the latest scores (the pages and the API show the
    latest): how many of its accounts now have it as their latest, and how many kept a
    newer one, the newest of those from ``newest``."""

    latest: int
    kept_newer: int
    newest: dt.datetime | None


def past_run_effect(*, run: ScoringRun) -> PastRunEffect:
    """``PastRunEffect`` of ``run``, from its history rows (one partition: they are all
    dated its as-of) against each account's latest score, in one query."""
    rows = AccountHealth.objects.filter(
        account__health_scores__run=run, account__health_scores__computed_at=run.as_of
    ).aggregate(
        latest=Count("pk", filter=Q(computed_at=run.as_of)),
        kept_newer=Count("pk", filter=Q(computed_at__gt=run.as_of)),
        newest=Max("computed_at"),
    )
    return PastRunEffect(
        latest=rows["latest"],
        kept_newer=rows["kept_newer"],
        newest=rows["newest"] if rows["kept_newer"] else None,
    )
