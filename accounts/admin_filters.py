"""Changelist filters that stay cheap on a table of millions of rows.

Django's default filters read the table to offer their choices: a foreign key's filter
lists every row of the related table (every user, every account), a plain text field's
runs ``SELECT DISTINCT`` over the whole column, and ``date_hierarchy`` runs a
``DISTINCT`` over the dates. The admins of the large tables use instead filters whose
choices are fixed (choices, booleans, "empty or not", "today / past 7 days / this month
/ this year") or typed in (``input_filter``: a value matched exactly, along an index).
``tests/test_admin_bounds.py`` holds every admin of a large table to that.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import QueryDict


class InputFilter(admin.SimpleListFilter):
    """A filter whose value is typed into a box, not chosen from a list read from the
    database. Subclasses name the ``lookup`` the value is matched with."""

    template = "admin/input_filter.html"
    lookup = ""

    def lookups(self, request, model_admin):
        # Django shows a filter only when it has choices: this one entry, which the box's
        # template does not list, is what makes it appear. Nothing is read for it.
        return [("", "")]

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(**{self.lookup: value}) if value else queryset

    def choices(self, changelist):
        # The other parameters of the list (filters, search, order) ride along as
        # hidden fields of the box's form; a new value starts again at the first page.
        others = QueryDict(changelist.get_query_string(remove=[self.parameter_name, "p"])[1:])
        yield {
            "selected": bool(self.value()),
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "hidden": [(key, value) for key in others for value in others.getlist(key)],
        }


def input_filter(*, title: str, parameter_name: str, lookup: str) -> type[InputFilter]:
    """An ``InputFilter`` matching ``lookup`` (e.g. ``owner__username``) exactly."""
    return type(
        f"{parameter_name.title().replace('_', '')}InputFilter",
        (InputFilter,),
        {"title": title, "parameter_name": parameter_name, "lookup": lookup},
    )
