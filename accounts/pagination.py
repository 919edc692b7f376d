"""Pages of a large list without counting the whole of it on every page.

The account list is a filtered view of a book that may hold a million accounts; an
exact ``COUNT(*)`` of that on every page costs more than the page itself. A list counts
exactly up to ``settings.VITALS_LIST_EXACT_COUNT`` rows (a count over a LIMIT-ed
subquery, which stops reading there). Above that, on PostgreSQL, it shows the planner's
estimate of the filtered rows, rounded and said as such ("about 48,200"), or, should
the estimate fall short of the rows already counted, "more than 10,000"; on SQLite, the
embedded default for small books, it counts exactly.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

from config.keyset import parts_of, read_parts, sort_keys


class BookPaginator(Paginator):
    """A paginator whose ``count`` is exact up to a limit and estimated beyond it, with
    ``count_is_estimate`` saying which."""

    count_is_estimate = False
    # How the count reads before its number: "" when exact; "about " for the planner's
    # estimate; "more than " when the estimate fell short of the rows already counted
    # (the planner misjudged the filters): the count is then the limit, a floor.
    count_prefix = ""

    def __init__(
        self,
        object_list,
        per_page,
        *args,
        known_count: int | None = None,
        in_parts: bool = False,
        **kwargs,
    ):
        """``known_count``: the list's size where the caller knows it exactly without
        counting (the book's figures know how many accounts a user sees).

        ``in_parts``: read a page of a list sorted on a nullable column of a related
        row (the score, the 30-day change) from the rows that have a value, by inner
        join in that column's index order, and then from those that have none, instead
        of sorting an outer join of the whole book (config/keyset.py)."""
        super().__init__(object_list, per_page, *args, **kwargs)
        self.known_count = known_count
        self.parts = parts_of(sort_keys(object_list)) if in_parts else None

    def validate_number(self, number):
        # The first page exists, empty or not: it needs no count (see ``page``).
        try:
            first = int(number) == 1
        except (TypeError, ValueError):
            first = False
        if first and self.allow_empty_first_page and "count" not in self.__dict__:
            return 1
        return super().validate_number(number)

    def page(self, number):
        """The page; the first one reads a row past itself (and its orphans), and when
        there is none the list is that page: its count is known without counting (a
        search, a narrow filter)."""
        number = self.validate_number(number)
        if number == 1 and "count" not in self.__dict__ and self.known_count is None:
            rows = self._rows(0, self.per_page + self.orphans + 1)
            if len(rows) <= self.per_page + self.orphans:
                self.__dict__["count"] = len(rows)
                return self._get_page(rows, 1, self)  # type: ignore[attr-defined]
            return self._get_page(rows[: self.per_page], 1, self)  # type: ignore[attr-defined]
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom, top), number, self)  # type: ignore[attr-defined]

    def _rows(self, start: int, stop: int) -> list:
        if self.parts is None or len(self.parts) == 1:
            return list(self.object_list[start:stop])
        queryset: QuerySet = self.object_list  # type: ignore[assignment]
        return read_parts(queryset, self.parts, start, stop)

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        limit = settings.VITALS_LIST_EXACT_COUNT
        queryset: QuerySet = self.object_list  # type: ignore[assignment]
        # Any rows will do for counting: without the order the planner reads the cheapest.
        counted = queryset.order_by()[: limit + 1].count()
        if counted <= limit:
            return counted
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return queryset.count()
        self.count_is_estimate = True
        estimate = estimated_rows(queryset)
        if estimate < counted:
            self.count_prefix = "more than "
            return limit
        self.count_prefix = "about "
        return estimate


def estimated_rows(queryset: QuerySet) -> int:
    """The planner's estimate of how many rows ``queryset`` returns, to three
    significant figures (an estimate shown with more digits would claim a precision it
    does not have)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    rows = int(plan[0]["Plan"]["Plan Rows"])
    if rows < 1000:
        return rows
    scale = 10 ** (int(math.log10(rows)) - 2)
    return round(rows / scale) * scale
