"""Filters of the backtest pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pct(value: float | str | None, digits: int = 1) -> str:
    """A share (0–1) as a percentage: 0.2653 → "26.5 %". A template passes "" for a
    missing value."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f} %"
