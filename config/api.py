"""REST API plumbing shared by every app's API views, set as the defaults in
settings.REST_FRAMEWORK: the JSON parser, pagination, and a validator for JSON fields.
(Authentication by API token, scopes and the per-token throttle live with the tokens,
in ``accounts.authentication``; the OpenAPI side in api_schema.py.)

This module must not import rest_framework.views (DRF imports it while loading its
settings).
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, pagination, parsers

from config.jsonlimits import JsonTooDeep, json_depth_check, json_nul_path


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


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
