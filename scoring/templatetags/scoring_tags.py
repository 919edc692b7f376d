from __future__ import annotations

from django import template

from scoring.formatting import format_delta, format_score

register = template.Library()


@register.filter(name="abs")
def absolute(value):
    """The size of a change, for text that already says its direction (▲/▼)."""
    try:
        return abs(value)
    except TypeError:
        return value


def _number(value) -> float | None:
    # A missing value reaches a filter as None or "" (an unknown template variable).
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@register.filter(name="score")
def score_text(value) -> str:
    """A score as it reads everywhere (scoring.formatting): "49.9", "—" without one."""
    return format_score(_number(value)) or "—"


@register.filter(name="delta")
def delta_text(value) -> str:
    """A change of score as it reads everywhere: "+1.9", "−1.9", "—" without one."""
    return format_delta(_number(value)) or "—"
