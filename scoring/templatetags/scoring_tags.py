from __future__ import annotations

from django import template

register = template.Library()


@register.filter(name="abs")
def absolute(value):
    """The size of a change, for text that already says its direction (▲/▼)."""
    try:
        return abs(value)
    except TypeError:
        return value
