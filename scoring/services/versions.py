"""Scoring model versions: drafts created and changed, activated, copied as the next
version. Only drafts change; activating one retires its key's active version, so every
stored score points at the exact rules that produced it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import RiskLevel
from scoring.errors import InvalidModel, NotDraft, ScoringError
from scoring.models import Band, Metric, ScoringComponent, ScoringModel
from scoring.validation import model_errors


@dataclass
class ComponentInput:
    metric: Metric
    rule: str
    params: dict
    label: str = ""
    weight: Decimal = Decimal(0)
    missing: str = ScoringComponent.Missing.SKIP
    default_value: float | None = None

    @classmethod
    def of(cls, component: ScoringComponent) -> ComponentInput:
        """A stored component as input (its metric's current definition goes with it)."""
        return cls(
            metric=component.metric,
            rule=component.rule,
            params=component.params,
            label=component.label,
            weight=component.weight,
            missing=component.missing,
            default_value=component.default_value,
        )


@dataclass
class BandInput:
    name: str
    lower: float | None
    color: str = "#64748b"
    level: str = RiskLevel.NEUTRAL

    @classmethod
    def of(cls, band: Band) -> BandInput:
        return cls(name=band.name, lower=band.lower, color=band.color, level=band.level)


MODEL_FIELDS = (
    "name",
    "description",
    "kind",
    "segment",
    "plan",
    "lifecycle_stage",
    "exit_margin",
    "dwell_scorings",
    "dwell_days",
)


def _components_replace(model: ScoringModel, components: list[ComponentInput]) -> None:
    """The model's components, in the order given. Each rolls its metric up as the metric
    is defined now: a draft follows its metrics (``metric_save``), a version in use keeps
    the definitions it was activated with."""
    model.components.all().delete()
    ScoringComponent.objects.bulk_create(
        ScoringComponent(
            model=model,
            metric=c.metric,
            rollup=c.metric.rollup,
            window_days=c.metric.window_days,
            label=c.label,
            position=position,
            weight=c.weight,
            rule=c.rule,
            params=c.params,
            missing=c.missing,
            default_value=c.default_value,
        )
        for position, c in enumerate(components)
    )


def _bands_replace(model: ScoringModel, bands: list[BandInput]) -> None:
    model.bands.all().delete()
    Band.objects.bulk_create(
        Band(model=model, name=b.name, lower=b.lower, color=b.color, level=b.level) for b in bands
    )


@transaction.atomic
def scoring_model_new_version(*, model: ScoringModel) -> ScoringModel:
    """A draft copy of ``model`` (components and bands too) as the next version."""
    latest = (
        ScoringModel.objects.filter(key=model.key)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    draft = ScoringModel.objects.create(
        key=model.key,
        # ``model`` is one of the versions, so there is always a latest.
        version=(model.version if latest is None else latest) + 1,
        based_on=model,
        status=ScoringModel.Status.DRAFT,
        **{name: getattr(model, name) for name in MODEL_FIELDS},
    )
    _components_replace(
        draft,
        [
            ComponentInput.of(c)
            for c in model.components.select_related("metric").order_by("position", "id")
        ],
    )
    _bands_replace(draft, [BandInput.of(b) for b in model.bands.all()])
    return draft


@transaction.atomic
def scoring_model_activate(*, model: ScoringModel, now: dt.datetime | None = None) -> ScoringModel:
    """Make a draft the active version of its model, retiring the one that was active."""
    if model.status != ScoringModel.Status.DRAFT:
        raise NotDraft(f"{model} is {model.get_status_display().lower()}, not a draft.")
    errors = model_errors(model=model)
    if errors:
        raise InvalidModel("Cannot activate: " + " ".join(errors))
    now = now or timezone.now()
    ScoringModel.objects.filter(key=model.key, status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.RETIRED, retired_at=now
    )
    model.status = ScoringModel.Status.ACTIVE
    model.activated_at = now
    model.save(update_fields=["status", "activated_at"])
    return model


def scoring_model_draft_save(
    *,
    model: ScoringModel | None = None,
    key: str | None = None,
    based_on: ScoringModel | None = None,
    fields: dict | None = None,
    components: list[ComponentInput] | None = None,
    bands: list[BandInput] | None = None,
) -> ScoringModel:
    """Create a draft or change one, and check the whole model before keeping it.

    Steps: a new draft is the next version of ``key`` (or a copy of ``based_on``, as
    its key's next version); an existing one is locked and must still be a draft. The
    ``fields`` given are set; ``components`` and ``bands``, when given, replace the
    model's (in the order given). Then ``model_errors`` checks the model as a whole
    (weights summing to 100 %, bands, rules for its kind); on any error nothing is
    kept and ValidationError lists them under ``non_field_errors``.
    """
    fields = {name: value for name, value in (fields or {}).items() if name in MODEL_FIELDS}
    with transaction.atomic():
        if model is None and based_on is not None:
            model = scoring_model_new_version(model=based_on)
        elif model is None:
            if not key:
                raise ScoringError("Give the new model a key.")
            latest = (
                ScoringModel.objects.filter(key=key)
                .order_by("-version")
                .values_list("version", flat=True)
                .first()
            )
            model = ScoringModel(key=key, version=(latest or 0) + 1)
        else:
            model = ScoringModel.objects.select_for_update().get(pk=model.pk)
            if model.status != ScoringModel.Status.DRAFT:
                raise NotDraft(
                    f"{model} is {model.get_status_display().lower()}: only drafts can be "
                    "changed. Create a new version to change it."
                )
        for name, value in fields.items():
            setattr(model, name, value)
        if model.pk is None:
            model.save()
        elif fields:
            model.save(update_fields=list(fields))
        if components is not None:
            _components_replace(model, components)
        if bands is not None:
            _bands_replace(model, bands)
        errors = model_errors(model=model)
        if errors:
            raise ValidationError({"non_field_errors": errors})
    return model
