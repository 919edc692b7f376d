"""Weights fitted to a backtest's history (``backtest_suggest``), measured out of sample,
and the draft version made from them (``backtest_draft_create``, through the one write
path of scoring models)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import transaction

from scoring.analysis import calibration
from scoring.analysis.backtest import BacktestReport, Sample
from scoring.errors import ScoringError
from scoring.models import ScoringModel
from scoring.scorer import model_spec
from scoring.services import ComponentInput, scoring_model_draft_save, scoring_model_new_version


@dataclass
class CalibrationReport:
    """A suggested version fitted to a backtest's history, measured out of sample."""

    suggestion: calibration.Suggestion
    rows: list[dict]
    samples: int
    churned: int
    dates: list[dt.date]
    cross_validation: calibration.CrossValidation
    later: calibration.Evaluation | None = None
    later_date: dt.date | None = None


def backtest_suggest(*, report: BacktestReport, k: int = 5) -> CalibrationReport:
    """Fit weights to the samples of the report's usable dates, measure the fit with
    k-fold cross-validation over accounts and, with several dates, on the latest date
    after fitting on the earlier ones."""
    model = report.model
    if model.kind != ScoringModel.Kind.WEIGHTED:
        raise ScoringError(
            f"{model} is a points model: suggestions fit the weights of weighted models."
        )
    usable = {i for i, point in enumerate(report.points) if point.ok}
    if not usable:
        raise ScoringError(
            "No as-of date has enough history and churned accounts to fit weights: "
            + " ".join(p for point in report.points for p in point.problems)
        )
    samples = [s for s in report.samples if s.date_index in usable]
    partial = {i: set(point.partial_components) for i, point in enumerate(report.points)}
    samples = [_masked(s, partial[s.date_index]) for s in samples]
    specs = list(model_spec(model=model).components)
    data = _calibration_data(samples)
    try:
        suggestion = calibration.suggest(specs=specs, data=data)
        cv = calibration.cross_validate(specs=specs, data=data, k=k)
    except calibration.CalibrationError as exc:
        raise ScoringError(str(exc)) from exc
    result = CalibrationReport(
        suggestion=suggestion,
        rows=[],
        samples=len(samples),
        churned=sum(s.label for s in samples),
        dates=[report.points[i].date for i in sorted(usable)],
        cross_validation=cv,
    )
    if len(usable) > 1:
        last = max(usable)
        earlier = [s for s in samples if s.date_index != last]
        latest = [s for s in samples if s.date_index == last]
        try:
            result.later = calibration.evaluate(
                specs=specs, train=_calibration_data(earlier), test=_calibration_data(latest)
            )
            result.later_date = report.points[last].date
        except calibration.CalibrationError:
            result.later = None
    for label, current, fit in zip(
        report.component_labels, specs, suggestion.components, strict=True
    ):
        result.rows.append(
            {
                "label": label,
                "metric": current.metric,
                "rule": current.rule,
                "current_weight": current.weight,
                "weight": fit.spec.weight,
                "current_params": current.params,
                "params": fit.spec.params,
                "params_changed": fit.spec.params != current.params,
                "coefficient": fit.coefficient,
                "note": fit.note,
            }
        )
    return result


def _masked(sample: Sample, partial: set[int]) -> Sample:
    """The sample with the components whose history was partial at its date as missing."""
    if not partial:
        return sample
    breakdown = [[None, None] if i in partial else pair for i, pair in enumerate(sample.breakdown)]
    return replace(sample, breakdown=breakdown)


def _calibration_data(samples: list[Sample]) -> calibration.Data:
    return calibration.Data(
        raws=[[pair[0] for pair in s.breakdown] for s in samples],
        scores=[[pair[1] for pair in s.breakdown] for s in samples],
        labels=[s.label for s in samples],
        groups=[s.account_id for s in samples],
        current=[s.score for s in samples],
    )


@transaction.atomic
def backtest_draft_create(
    *, model: ScoringModel, result: CalibrationReport, horizon_days: int
) -> ScoringModel:
    """A new draft version of ``model`` with the suggested weights and thresholds."""
    draft = scoring_model_new_version(model=model)
    components = [
        replace(
            ComponentInput.of(component),
            weight=Decimal(str(fit.spec.weight)),
            params=dict(fit.spec.params),
        )
        for component, fit in zip(
            draft.components.order_by("position", "id"), result.suggestion.components, strict=True
        )
    ]
    mean, _ = result.cross_validation.suggested
    dates = ", ".join(f"{d:%Y-%m-%d}" for d in result.dates)
    fitted = (
        f"Weights fitted to churn within {horizon_days} days of {dates} "
        f"({result.samples} accounts, {result.churned} churned)"
    )
    if mean is not None:
        fitted += f"; cross-validated ROC AUC {mean:.3f}"
    return scoring_model_draft_save(
        model=draft,
        fields={"description": f"{draft.description}\n\n{fitted}.".strip()},
        components=components,
    )
