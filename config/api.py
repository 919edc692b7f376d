"""REST API plumbing shared by every app's API views, set as the defaults in
settings.REST_FRAMEWORK: the JSON parser, pagination, and a validator for JSON fields;
and the CSV renderer of the lists that stream a CSV file.
(Authentication by API token, scopes and the per-token throttle live with the tokens,
in ``accounts.authentication``; the OpenAPI side in api_schema.py.)

This module must not import rest_framework.views (DRF imports it while loading its
settings).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.db.models import F
from rest_framework import exceptions, pagination, parsers, renderers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.jsonlimits import JsonTooDeep, json_depth_check, json_nul_path
from config.keyset import Key, ordered, parts_after, parts_of, sort_keys


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing JSON nested deeper than ``config.jsonlimits.MAX_DEPTH``
    with a 400 (DRF's own would crash on a RecursionError far deeper down)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            return json_depth_check(data)
        except (RecursionError, JsonTooDeep):
            raise exceptions.ParseError(str(JsonTooDeep())) from None


def json_without_nul(value: Any) -> Any:
    """A validator for JSON fields: refuse a NUL character (\\u0000), which PostgreSQL
    cannot store in jsonb, naming where it is, rather than fail at the database."""
    where = json_nul_path(value)
    if where is not None:
        raise exceptions.ValidationError(
            f"May not contain NUL (\\u0000) characters (found at {where or 'the top'})."
        )
    return value


class CSVRenderer(renderers.BaseRenderer):
    """``Accept: text/csv`` (or ``?format=csv``) on a list that offers it. The view
    answers with the file itself, streamed (see ``csv_or_json``); anything else it
    answers, an error above all, is JSON, as on every other request."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise AssertionError("A CSV list streams its file; errors fall back to JSON.")


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def _encode(value: Any) -> Any:
    for kind, cls in (("datetime", dt.datetime), ("date", dt.date)):
        if isinstance(value, cls):
            return {kind: value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((kind, text),) = value.items()
    parse: dict[str, Any] = {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "decimal": Decimal,
    }
    return parse[kind](text)


class CursorPagination(pagination.BasePagination):
    """Pages that follow each other by position, not by number: ``next`` and
    ``previous`` carry a cursor, the sort keys of the row a page ended (or began) on,
    and the next page reads the rows past it along the list's order. A page costs the
    same at any depth, with any of the list's orderings, and rows written meanwhile
    neither repeat nor skip the rows around them. There is no total: counting a large
    book would cost more than the page.

    ``?page=N`` still answers numbered pages with their ``count`` (``PageNumberPagination``),
    for the clients that read them; its cost grows with the page's depth.
    """

    page_size = PageNumberPagination.page_size
    max_page_size = PageNumberPagination.max_page_size
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.numbered: PageNumberPagination | None = None
        if PageNumberPagination.page_query_param in request.query_params:
            self.numbered = PageNumberPagination()
            return self.numbered.paginate_queryset(queryset, request, view)
        self.request, self.base_url = request, request.build_absolute_uri()
        self.size: int = PageNumberPagination().get_page_size(request) or self.page_size
        keys = sort_keys(queryset)
        backwards, values = self._cursor(request, keys)
        if backwards:
            keys = [key.flipped() for key in keys]
        named = queryset.annotate(**{f"cursor_key_{i}": F(key.name) for i, key in enumerate(keys)})
        rows: list = []
        for part in parts_after(keys, values) if values else parts_of(keys):
            rows += ordered(named.filter(part.where), part.keys)[: self.size + 1 - len(rows)]
            if len(rows) > self.size:
                break
        more, rows = len(rows) > self.size, rows[: self.size]
        if backwards:
            rows.reverse()
        ends = [self._position(row, len(keys)) for row in rows[:1] + rows[-1:]]
        self.next = self.previous = None
        if rows and (more or backwards):
            self.next = self._link(ends[-1], backwards=False, keys=keys, flip=backwards)
        if rows and (values if not backwards else more):
            self.previous = self._link(ends[0], backwards=True, keys=keys, flip=backwards)
        return rows

    @staticmethod
    def _position(row: Any, width: int) -> list[Any]:
        return [getattr(row, f"cursor_key_{i}") for i in range(width)]

    @staticmethod
    def _signature(keys: list[Key]) -> str:
        return ",".join(f"{'-' if key.descending else ''}{key.name}" for key in keys)

    def _link(self, values: list[Any], *, backwards: bool, keys: list[Key], flip: bool) -> str:
        forward_keys = [key.flipped() for key in keys] if flip else keys
        payload: dict[str, Any] = {
            "o": self._signature(forward_keys),
            "v": [_encode(v) for v in values],
        }
        if backwards:
            payload["b"] = 1
        text = json.dumps(payload, separators=(",", ":"))
        cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        url = replace_query_param(self.base_url, self.cursor_query_param, cursor)
        return remove_query_param(url, PageNumberPagination.page_query_param)

    def _cursor(self, request, keys: list[Key]) -> tuple[bool, list[Any] | None]:
        """(backwards, the position) from ``?cursor=``; (False, None) for the first page."""
        given = request.query_params.get(self.cursor_query_param)
        if given is None:
            return False, None
        try:
            payload = json.loads(base64.urlsafe_b64decode(given + "=" * (-len(given) % 4)))
            values = [_decode(value) for value in payload["v"]]
            if len(values) != len(keys):
                raise ValueError("a value for each sort key")
            if payload["o"] != self._signature(keys):
                raise exceptions.ValidationError(
                    {
                        self.cursor_query_param: [
                            "Belongs to the list in another order: start again without "
                            "a cursor, or keep the ordering the cursor was made with."
                        ]
                    }
                )
            return bool(payload.get("b")), values
        except (ValueError, TypeError, KeyError, AttributeError):
            raise exceptions.ValidationError(
                {
                    self.cursor_query_param: [
                        "Not a cursor of this list: use a next or previous link as given."
                    ]
                }
            ) from None

    def get_paginated_response(self, data):
        if self.numbered is not None:
            return self.numbered.get_paginated_response(data)
        return Response({"next": self.next, "previous": self.previous, "results": data})

    def get_paginated_response_schema(self, schema):
        numbered = PageNumberPagination().get_paginated_response_schema(schema)
        numbered["properties"]["count"]["description"] = "Only with `page`."
        numbered["required"] = ["results"]
        return numbered

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the cursor of a `next` or "
                "`previous` link. Leave it out for the first page.",
                "schema": {"type": "string"},
            },
            *PageNumberPagination().get_schema_operation_parameters(view),
        ]
