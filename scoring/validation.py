"""Checks of scoring configuration that write nothing: a component's rule parameters, a
model's bands, a whole version before it is activated. The messages are for the admin
who has to fix the input, in words they can act on.

Models (``ScoringComponent.clean``), forms, serializers and the services all call these,
so a rule is checked one way wherever it is entered.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, SupportsFloat, SupportsIndex, TypeGuard

from scoring.engine import WEIGHTED

if TYPE_CHECKING:
    from scoring.models import ScoringModel


def _number(value: Any) -> TypeGuard[str | SupportsFloat | SupportsIndex]:
    """Whether ``float(value)`` gives a number (a bool is no number here); ``value`` is
    anything decoded from JSON, and the probe is ``float`` itself."""
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def component_params_errors(
    *, rule: str, params: object, model_kind: str | None
) -> dict[str, list[str]]:
    """Errors in a component's rule parameters, by field, in words an admin can act on."""
    errors: list[str] = []
    if not isinstance(params, dict):
        return {"params": ['Parameters must be a JSON object, e.g. {"worst": 0, "best": 20}.']}
    if rule == "linear":
        worst, best = params.get("worst"), params.get("best")
        if not (_number(worst) and _number(best)):
            errors.append(
                'A linear range needs numbers "worst" (scores 0) and "best" (scores 100).'
            )
        elif float(worst) == float(best):
            errors.append('"worst" and "best" must differ.')
    elif rule == "steps":
        steps = params.get("steps")
        if not isinstance(steps, list) or not steps:
            errors.append('Step thresholds need "steps": [[threshold, score], ...].')
        else:
            seen = set()
            for i, step in enumerate(steps, start=1):
                if not (isinstance(step, list) and len(step) == 2 and all(map(_number, step))):
                    errors.append(f"Step {i} must be [threshold, score] with two numbers.")
                    continue
                if float(step[0]) in seen:
                    errors.append(f"Step {i} repeats threshold {step[0]}.")
                seen.add(float(step[0]))
                if model_kind == WEIGHTED and not 0 <= float(step[1]) <= 100:
                    errors.append(f"Step {i} scores {step[1]}; weighted scores run 0–100.")
    elif rule == "table":
        table = params.get("table")
        if not isinstance(table, dict) or not table:
            errors.append('A value table needs "table": {"value": score, ...}.')
        else:
            seen = set()
            for key, score in table.items():
                if not _number(key) or not _number(score):
                    errors.append(f"Table entry {key!r}: {score!r} must map a number to a number.")
                    continue
                if float(key) in seen:
                    errors.append(f"Table value {key} appears twice.")
                seen.add(float(key))
                if model_kind == WEIGHTED and not 0 <= float(score) <= 100:
                    errors.append(f"Table value {key} scores {score}; weighted scores run 0–100.")
    elif rule == "passthrough":
        pass
    elif rule == "per_unit":
        if not _number(params.get("points")):
            errors.append('Points per unit need "points": a number (may be negative).')
        if model_kind == WEIGHTED:
            errors.append("Points per unit belong to points models; use a 0–100 rule here.")
    else:
        errors.append(f"Unknown rule {rule!r}.")
    return {"params": errors} if errors else {}


def model_errors(*, model: ScoringModel) -> list[str]:
    """Whole-model checks: weights sum to 100, bands sensible, components valid."""
    errors: list[str] = []
    components = list(model.components.select_related("metric"))
    bands = list(model.bands.all())
    if not components:
        errors.append("The model has no components.")
    errors.extend(
        weight_errors(
            model_kind=model.kind, weights=[(c.display_label, c.weight) for c in components]
        )
    )
    for c in components:
        for messages in component_params_errors(
            rule=c.rule, params=c.params, model_kind=model.kind
        ).values():
            errors.extend(f"{c.display_label}: {m}" for m in messages)
    errors.extend(band_errors(bands=[(b.name, b.lower) for b in bands], model_kind=model.kind))
    return errors


def _percent(value: Decimal | float) -> str:
    # normalize(): 90.00 reads "90", 99.50 reads "99.5".
    return f"{Decimal(str(value)).normalize():f}"


def weight_errors(*, model_kind: str, weights: Sequence[tuple[str, Decimal]]) -> list[str]:
    """A weighted model's weights, given as (component label, weight), sum to 100 %."""
    if model_kind != WEIGHTED or not weights:
        return []
    total = sum((Decimal(str(weight)) for _, weight in weights), Decimal(0))
    if total == Decimal(100):
        return []
    parts = ", ".join(f"{label} {_percent(weight)}" for label, weight in weights)
    return [f"Weights sum to {_percent(total)} %; they must sum to 100 % ({parts})."]


def repeated(keys: Sequence[object]) -> dict[int, int]:
    """A model scores each metric once: for each position of ``keys`` (the components'
    metrics, in order) that repeats an earlier one, the position of its first use."""
    first: dict[object, int] = {}
    repeats: dict[int, int] = {}
    for index, key in enumerate(keys):
        if key in first:
            repeats[index] = first[key]
        else:
            first[key] = index
    return repeats


def band_errors(*, bands: list[tuple[str, float | None]], model_kind: str) -> list[str]:
    errors: list[str] = []
    if not bands:
        return ["The model has no bands."]
    lowers = [lower for _, lower in bands if lower is not None]
    for lower in sorted({lower for lower in lowers if lowers.count(lower) > 1}):
        clashing = " and ".join(name for name, other in bands if other == lower)
        errors.append(
            f"Two bands start at the same score ({clashing} at {lower:g}): bands must not overlap."
        )
    if sum(1 for _, lower in bands if lower is None) > 1:
        errors.append("Only one band can be open below.")
    names = [name for name, _ in bands]
    if len(names) != len(set(names)):
        errors.append("Band names must be unique within a model.")
    if model_kind == WEIGHTED and all(lower is not None for _, lower in bands):
        lowest = min(lowers)
        if lowest > 0:
            errors.append(
                f"No band covers scores below {lowest:g}: start the lowest band at 0 or leave it open below."
            )
    return errors


def components_with_bad_params(*, model: ScoringModel) -> list[str]:
    """The labels of the components whose rule parameters do not make sense: a version
    with any cannot be scored (not even previewed) until they are fixed."""
    return [
        c.display_label
        for c in model.components.select_related("metric")
        if component_params_errors(rule=c.rule, params=c.params, model_kind=model.kind)
    ]
