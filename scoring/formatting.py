"""How scores and score changes read, everywhere a person reads them: pages, task and
email texts, timelines, admin and webhook texts. The API returns the numbers themselves.

- A score reads with one decimal, rounded *down* (towards minus infinity): 49.99 reads
  "49.9", never "50.0" in a band that starts at 50; −0.04 reads "−0.1", below a band
  that starts at 0. So a score never reads as a band's edge it has not reached.
- A change reads with one decimal, rounded half away from zero, and always a sign:
  "+1.9", "−1.9", "±0.0".
- Negative numbers take the minus sign (−), not a hyphen.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

MINUS = "\u2212"
TENTH = Decimal("0.1")


def _tenths(value: float, rounding: str) -> Decimal:
    return Decimal(repr(float(value))).quantize(TENTH, rounding=rounding)


def format_score(value: float | None) -> str:
    """``value`` as a score reads ("" when there is none)."""
    if value is None:
        return ""
    tenths = _tenths(value, ROUND_FLOOR)
    if tenths < 0:
        return f"{MINUS}{-tenths:.1f}"
    return f"{tenths:.1f}"


def format_delta(value: float | None) -> str:
    """A change of score as it reads ("" when there is none)."""
    if value is None:
        return ""
    # ROUND_HALF_UP on a Decimal rounds half away from zero in both directions.
    tenths = _tenths(value, ROUND_HALF_UP)
    if tenths == 0:
        return "±0.0"
    if tenths < 0:
        return f"{MINUS}{-tenths:.1f}"
    return f"+{tenths:.1f}"


def format_change(before: float | None, after: float | None) -> str:
    """ "50.6 → 49.9": a score before and after, each as it reads."""
    return f"{format_score(before) or '—'} → {format_score(after) or '—'}"
