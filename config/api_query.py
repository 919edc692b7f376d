"""Query parameters held to the OpenAPI schema: the schema is the contract.

A typo in a filter (``?segmnt=smb``) silently ignored returns the whole book; a page
size of ``abc`` silently replaced by the default hides a bug in the client. So every
API request's query parameters are checked against the ones its operation declares in
the schema (``/api/schema/``), before the view runs:

- a parameter the operation does not take is a 400 naming it and the ones it takes;
- a parameter given twice, or with an empty value, is a 400;
- an integer parameter (``page``, ``page_size``) must be a whole number within its
  bounds.

Values the views read themselves (dates, choices, ``ordering``) are checked by them,
all of them at once, also with a 400 naming each parameter. A separate module from ``config.api`` because it builds the
schema, which imports DRF's views (``config.api`` is loaded while DRF starts).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from rest_framework import exceptions, permissions

_lock = threading.Lock()
_operations: dict[tuple[str, str], dict[str, dict[str, Any]]] | None = None


def declared_parameters() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(path template, method) -> {query parameter: its schema}, from the API schema,
    built once per process (config/wsgi.py builds it as a web process starts)."""
    global _operations
    with _lock:
        if _operations is None:
            from drf_spectacular.generators import SchemaGenerator

            schema = SchemaGenerator().get_schema(request=None, public=True)
            operations = {}
            for path, methods in schema["paths"].items():
                for method, operation in methods.items():
                    operations[(path, method.upper())] = {
                        p["name"]: p.get("schema", {})
                        for p in operation.get("parameters", [])
                        if p.get("in") == "query"
                    }
            _operations = operations
        return _operations


def _template(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _problem(values: list[str], spec: dict[str, Any]) -> str | None:
    if len(values) > 1 and spec.get("type") != "array":
        return "Give it once."
    value = values[0]
    if not value.strip():
        return "Give a value, or leave the parameter out."
    if spec.get("type") == "integer":
        try:
            number = int(value)
        except ValueError:
            return f"{value!r} is not a whole number."
        if "minimum" in spec and number < spec["minimum"]:
            return f"At least {spec['minimum']}."
        if "maximum" in spec and number > spec["maximum"]:
            return f"At most {spec['maximum']}."
    return None


class QueryMatchesSchema(permissions.BasePermission):
    """Runs after ``HasScopes`` (settings.REST_FRAMEWORK): the checks above, as a 400."""

    def has_permission(self, request, view) -> bool:
        match = getattr(request, "resolver_match", None)
        if match is None or not match.route or not request.query_params:
            return True
        declared = declared_parameters().get((_template(match.route), request.method))
        if declared is None:
            return True  # not an operation of the schema (OPTIONS, HEAD, a 405 to come)
        errors: dict[str, list[str]] = {}
        for name in request.query_params:
            spec = declared.get(name)
            if spec is None:
                takes = ", ".join(sorted(declared)) or "none"
                errors[name] = [f"Unknown query parameter; this operation takes: {takes}."]
                continue
            problem = _problem(request.query_params.getlist(name), spec)
            if problem:
                errors[name] = [problem]
        if errors:
            raise exceptions.ValidationError(errors)
        return True
