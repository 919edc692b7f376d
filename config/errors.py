"""The one domain error, and the one exception handler that turns every API error into
the same JSON shape::

    {"error": {"code": "invalid", "message": "…", "fields": {"arr": ["…"]}}}

``code`` is stable and meant for programs; ``message`` is for people; ``fields``
appears on validation errors only and names each bad field (nested as the input is).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback


class DomainError(Exception):
    """A request the domain refuses, with the HTTP status and code the API answers with.

    Services raise it (or a subclass) without knowing about HTTP status pages; the
    exception handler below is the only place that renders it.
    """

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.fields = fields


class PayloadTooLarge(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"


class Conflict(DomainError):
    """The request conflicts with the object's state (e.g. changing what is frozen)."""

    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def error_body(*, code: str, message: str, fields: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def _plain(detail: Any) -> Any:
    """DRF's ErrorDetail strings and lists, as plain JSON values."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) for item in detail]
    return str(detail)


def _validation_message(fields: Any) -> str:
    if isinstance(fields, dict) and fields:
        return f"Invalid input in: {', '.join(str(key) for key in fields)}."
    return "Invalid input."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every error answered in one shape.

    Returns None for anything unexpected so that it propagates as a 500 (and is logged
    and mailed to the admins as any crash is).
    """
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        body = error_body(code=exc.code, message=exc.message, fields=exc.fields)
        set_rollback()
        return Response(body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE (DRF's JSON
        # parser reads it through request.body); say so in JSON, not as a bare 400.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            error_body(
                code="request_too_large",
                message=f"The request body is larger than the limit of {limit:,} bytes.",
            ),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        return None

    # auth_header: set by DRF's APIView on a 401; wait: a Throttled's seconds to wait.
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = _plain(exc.detail)
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        body = error_body(code="invalid", message=_validation_message(fields), fields=fields)
    else:
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        body = error_body(code=str(code), message=str(detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


# --- The shape, for the OpenAPI schema -------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="For people: what is wrong.")
    # A declared field, taken off the class by DRF's metaclass: it does not replace
    # Serializer.fields, whatever the stubs think.
    fields = serializers.DictField(  # type: ignore[assignment]
        required=False,
        help_text="Validation errors only: each bad field with its messages (nested like the input).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
