"""Metrics: the one write path (admin, API, demo and sample imports), and what keeps
a version's definition of a metric once the version is in use."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from scoring.errors import InUse
from scoring.models import Metric, ScoringComponent, ScoringModel


def metric_save(*, metric: Metric | None = None, fields: dict) -> Metric:
    """Create a metric, or change the given fields of one. The one write path of metrics
    (admin, API, demo and imports).

    A metric's roll-up and window decide the scores of every model version that uses it,
    so a version keeps the definition it had when it was activated: a change here is
    copied to the drafts that use the metric, and reaches active versions only through a
    new version (``metric_definition_kept_by`` names them). A key already taken (by a
    request racing this one) is a ValidationError on ``key``, as the serializer's own
    uniqueness check would have said."""
    editable = ("key", "name", "unit", "description", "rollup", "window_days")
    fields = {name: value for name, value in fields.items() if name in editable}
    creating = metric is None or metric.pk is None
    metric = metric or Metric()
    for name, value in fields.items():
        setattr(metric, name, value)
    try:
        with transaction.atomic():
            if creating:
                metric.save()
            elif fields:
                metric.save(update_fields=list(fields))
                if {"rollup", "window_days"} & set(fields):
                    ScoringComponent.objects.filter(
                        metric=metric, model__status=ScoringModel.Status.DRAFT
                    ).update(rollup=metric.rollup, window_days=metric.window_days)
    except IntegrityError:
        raise ValidationError({"key": ["A metric with this key already exists."]}) from None
    return metric


def metric_ensure(*, key: str, fields: dict) -> Metric:
    """The metric ``key`` with ``fields``: created, or changed through ``metric_save`` (so
    a version in use keeps its definition). For code that sets up a known set of
    metrics, such as the demo and the sample imports."""
    metric = Metric.objects.filter(key=key).first()
    if metric is None:
        return metric_save(fields={**fields, "key": key})
    changed = {name: value for name, value in fields.items() if getattr(metric, name) != value}
    return metric_save(metric=metric, fields=changed) if changed else metric


def metric_definition_kept_by(*, metric: Metric) -> list[ScoringModel]:
    """The active versions that roll ``metric`` up by an earlier definition than its
    current one (they keep it until a new version of theirs is activated)."""
    return metrics_definitions_kept_by(metrics=[metric])[metric.pk]


def metrics_definitions_kept_by(*, metrics: Iterable[Metric]) -> dict[int, list[ScoringModel]]:
    """``metric_definition_kept_by`` for many metrics in one query (a list page):
    ``{metric id: versions}``, ordered by key and version."""
    by_id = {metric.pk: metric for metric in metrics}
    kept: dict[int, list[ScoringModel]] = {pk: [] for pk in by_id}
    components = (
        ScoringComponent.objects.filter(
            metric__in=list(by_id), model__status=ScoringModel.Status.ACTIVE
        )
        .select_related("model")
        .order_by("model__key", "model__version", "pk")
    )
    for component in components:
        metric = by_id[component.metric_id]
        earlier = component.rollup != metric.rollup or (
            metric.rollup in Metric.WINDOWED and component.window_days != metric.window_days
        )
        versions = kept[metric.pk]
        if earlier and component.model not in versions:
            versions.append(component.model)
    return kept


def metric_delete(*, metric: Metric) -> None:
    """Delete a metric no model and no signal refers to; ScoringError says what does."""
    models = sorted(
        {str(c.model) for c in metric.components.select_related("model")},
    )
    if models:
        raise InUse(
            f"Metric '{metric.key}' is used by the scoring model(s) {', '.join(models)}; "
            "remove it from their components first (a new version for active ones)."
        )
    signals = metric.signals.count()
    if signals:
        raise InUse(
            f"Metric '{metric.key}' has {signals:,} signal(s): signals are history and are "
            "kept. Stop sending it instead."
        )
    try:
        metric.delete()
    except ProtectedError:  # a component or signal added since the checks above
        raise InUse(f"Metric '{metric.key}' came into use; it was not deleted.") from None
