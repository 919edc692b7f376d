"""The navigation's task badge: one count query, run only where base.html asks for it."""

from __future__ import annotations

from django import template
from django.utils import timezone

from playbooks.selectors import tasks_due_count

register = template.Library()


@register.simple_tag(takes_context=True)
def tasks_due_badge(context) -> int:
    """How many of the signed-in person's tasks are overdue or due today."""
    user = context["request"].user
    if not user.is_authenticated:
        return 0
    return tasks_due_count(user=user, today=timezone.localdate())
