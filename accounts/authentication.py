"""Authentication of REST API requests by API token, and what a token may do.

Set as the defaults in settings.REST_FRAMEWORK (by dotted path, so the wiring package
imports no app): bearer-token authentication, per-method scopes, per-token throttling.
A view declares the scope each method needs and nothing else::

    class AccountListView(generics.ListAPIView):
        required_scopes = {"GET": "accounts:read"}

This module must not import rest_framework.views (DRF imports it while loading its
settings); hence the type-only imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.models import ApiToken
from accounts.tokens import TokenRejected, api_token_check

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

AUTH_REALM = 'Bearer realm="api"'


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer vit_…``. ``request.auth`` is the ApiToken; ``request.user``
    its user, or an anonymous user for a token that acts for no one."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # no credentials: the permission answers 401 "not_authenticated"
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Bearer <token>', with no spaces in the token.",
                code="token_invalid",
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The API token is malformed.", code="token_invalid"
            ) from None
        try:
            token = api_token_check(raw=raw)
        except TokenRejected as rejected:
            raise exceptions.AuthenticationFailed(rejected.message, code=rejected.code) from None
        return (token.user or AnonymousUser(), token)

    def authenticate_header(self, request: Request) -> str:
        return AUTH_REALM


class HasScopes(permissions.BasePermission):
    """Each view maps HTTP methods to the scope they need (``required_scopes``).

    HEAD needs what GET needs; OPTIONS only a valid token. A method the view handles
    but does not map is a programming error, refused loudly rather than left open.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.NotAuthenticated(
                "Send an API token in the header 'Authorization: Bearer <token>'."
            )
        if request.method is None:  # only a request built by hand has no method
            return False
        method = "GET" if request.method == "HEAD" else request.method
        if method == "OPTIONS":
            return True
        required = getattr(view, "required_scopes", {}).get(method)
        if required is None:
            # A generic view may define a handler (``put``) that its http_method_names
            # leaves out: DRF answers 405 for it, and so do we.
            if method.lower() in view.http_method_names and hasattr(view, method.lower()):
                raise ImproperlyConfigured(
                    f"{type(view).__name__} handles {method} but declares no scope for it."
                )
            return True  # the view does not handle it: 405 follows
        if not token.has_scope(required):
            raise exceptions.PermissionDenied(
                f"This token lacks the scope '{required}', which {method} {request.path} needs.",
                code="scope_missing",
            )
        return True


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Requests per token (settings.API_THROTTLE_RATE, e.g. "1000/min").

    Keyed by the token's prefix, which is unique like its id but also differs between
    databases sharing one cache (test workers, a staging copy of production).
    The rate is read per request, so a test can override the setting.
    """

    scope = "api_token"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}


def request_token(request: Request) -> ApiToken:
    """The ApiToken that authenticated ``request``. Every API view sits behind
    BearerTokenAuthentication and HasScopes, which let no request without one through;
    this says so to the type checker and refuses the same way should a view be wired
    without them."""
    token = request.auth
    if not isinstance(token, ApiToken):
        raise exceptions.NotAuthenticated(
            "Send an API token in the header 'Authorization: Bearer <token>'."
        )
    return token
