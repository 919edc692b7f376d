"""Form widgets shared by the apps.

``PlainSelect`` is Django's ``Select`` built in Python instead of through a template per
option: the same HTML, byte for byte (tests/test_widgets.py holds it to Django's), at a
fraction of the cost. Django renders each option through two included templates (the
option and its attributes); the account list's filter form has ten selects and, on a
large book, an owner select of a few hundred people, so the templates' cost was most of
the time it took to draw the form on every list page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict[str, Any]) -> str:
    # django/forms/widgets/attrs.html: False leaves the attribute out, True writes it bare.
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class PlainSelect(forms.Select):
    """``forms.Select``, rendered without templates (see the module's docstring), and
    from its choices directly rather than through an option dictionary per choice
    (``Select.optgroups``), which was most of what remained on an owner select of a
    few hundred people."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        # The widget's own context (name, attrs, value as strings), without optgroups.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        wanted, found = widget["value"], False
        parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_value, group_label in self.choices:
            grouped = isinstance(group_label, (list, tuple))
            if grouped:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_value)}">')
            for option_value, label in group_label if grouped else [(group_value, group_label)]:
                # Select.optgroups: a None value reads as "" (outside a group), and only
                # the first option matching the value is selected.
                text = "" if option_value is None and not grouped else str(option_value)
                selected = not found and text in wanted
                found |= selected
                # Each option ends in a newline, as Django's option template does.
                parts.append(
                    f'\n  <option value="{conditional_escape(text)}"'
                    f"{' selected' if selected else ''}>{conditional_escape(label)}</option>\n"  # type: ignore[arg-type]
                )
            if grouped:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every part is escaped above
