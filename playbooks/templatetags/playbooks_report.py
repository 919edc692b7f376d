"""Filters of the playbook effectiveness report: rates and differences of rates."""

from __future__ import annotations

from django import template

from scoring.formatting import MINUS

register = template.Library()


@register.filter
def percent(value) -> str:
    """A rate (0–1) as a whole per cent: "42 %"; "—" without one."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.0f} %"


@register.filter
def points(value) -> str:
    """A difference of rates (−1–1) in percentage points, signed: "+18 pts"."""
    if value is None or value == "":
        return "—"
    number = round(float(value) * 100)
    if number == 0:
        return "±0 pts"
    return f"{'+' if number > 0 else MINUS}{abs(number)} pts"
