"""The OpenAPI side of the API plumbing: the bearer security scheme and the error
responses every operation documents (all in the one error shape of config/errors.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from config.errors import ErrorSerializer


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer vit_<prefix>_<secret>`.",
        }


_ERROR_DESCRIPTIONS = {
    400: "Bad input: `error.fields` names each bad field.",
    401: "Missing, malformed, unknown, expired or revoked token (`error.code` says which).",
    403: "The token lacks the scope this operation needs (`scope_missing`).",
    404: "No such object, or it is outside the token's access scope.",
    409: "The request conflicts with the object's state (`error.code` says how).",
    413: "The request body or the batch is too large.",
    429: "Too many requests for this token; retry after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, all with the one error shape. 401, 403 and
    429 apply to every operation (each needs a token with a scope) and are always included."""
    wanted = sorted({401, 403, 429, *codes})
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in wanted
    }
