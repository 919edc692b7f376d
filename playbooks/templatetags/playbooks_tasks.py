"""A task card's "Give to" choices, written in Python: the queue draws up to a hundred
cards, each with a choice of everyone the task may go to, and a template loop over
the people on every card was a fifth of the queue's time."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def assignee_options(people, selected_pk) -> SafeString:
    """``<option>`` per person of ``people``, the one whose pk is ``selected_pk`` selected."""
    return mark_safe(  # every value is escaped here
        "".join(
            f'<option value="{person.pk}"{" selected" if person.pk == selected_pk else ""}>'
            f"{conditional_escape(str(person))}</option>"
            for person in people
        )
    )
