"""The navigation's bell: one count query, run only where base.html asks for it."""

from __future__ import annotations

from django import template

from notifications.selectors import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    return unread_count(user=context["request"].user)
