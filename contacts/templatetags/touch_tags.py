"""How long ago the last touch was, as the list, the task cards and the account page say
it: "today", "yesterday", "12 days ago" or "never"."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def days_ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if value is None:
        return "never"
    days = (timezone.localdate(now or timezone.now()) - timezone.localdate(value)).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    return f"{days} days ago"
