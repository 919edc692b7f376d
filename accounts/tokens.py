"""API tokens: issue, revoke, and check a raw token presented by a client.

A raw token reads ``vit_<prefix>_<secret>``. Only the SHA-256 of the whole raw token
is stored; ``prefix`` finds the row in one indexed query, the hash comparison (in
constant time) proves the client holds the secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, User

TOKEN_TAG = "vit"
PREFIX_LENGTH = 8
# Letters and digits only: the prefix must never contain the "_" that separates the parts.
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# Recording every request would be a write per request; a minute's precision is plenty.
LAST_USED_PRECISION = dt.timedelta(minutes=1)

SCOPES: list[str] = [scope.value for scope in ApiToken.Scope]


class TokenRejected(Exception):
    """A presented token cannot be used. ``code`` says why, ``message`` says it to a person."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def scopes_validate(scopes: Iterable[str]) -> list[str]:
    """The scopes, deduplicated in the canonical order; ValidationError names unknown ones."""
    given = list(scopes)
    unknown = [scope for scope in given if scope not in SCOPES]
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: {', '.join(SCOPES)}."
        )
    if not given:
        raise ValidationError(f"Give at least one scope. Valid scopes: {', '.join(SCOPES)}.")
    return [scope for scope in SCOPES if scope in given]


def api_token_create(
    *,
    name: str,
    scopes: Iterable[str],
    user: User | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token; returns it with the raw token, which is never stored nor shown again."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name that says what uses it.")
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ValidationError("expires_at must be timezone-aware.")
    canonical = scopes_validate(scopes)
    for _ in range(5):
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        raw = f"{TOKEN_TAG}_{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken(
            name=name,
            prefix=prefix,
            secret_hash=_hash(raw),
            scopes=canonical,
            user=user,
            expires_at=expires_at,
        )
        try:
            with transaction.atomic():
                token.save()
        except IntegrityError:
            continue  # a prefix collision (one in 2.8e12): draw another
        return token, raw
    raise RuntimeError("Could not draw an unused token prefix.")


def api_token_revoke(*, token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Revoke ``token``; returns False when it already was (the first revocation time stays)."""
    now = now or timezone.now()
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if updated:
        token.revoked_at = now
    return bool(updated)


def api_token_check(*, raw: str, now: dt.datetime | None = None) -> ApiToken:
    """The token that ``raw`` stands for, if it may be used now; TokenRejected otherwise.

    Steps: split ``vit_<prefix>_<secret>``; find the row by prefix; compare hashes in
    constant time; refuse revoked, expired and inactive-user tokens; record the use.
    """
    now = now or timezone.now()
    tag, _, rest = raw.partition("_")
    prefix, _, secret = rest.partition("_")
    if tag != TOKEN_TAG or not prefix or not secret:
        raise TokenRejected("token_invalid", "The API token is malformed.")
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(raw)):
        raise TokenRejected("token_invalid", "The API token is not valid.")
    if token.revoked_at is not None:
        raise TokenRejected("token_revoked", "The API token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRejected("token_expired", "The API token has expired.")
    if token.user is not None and not token.user.is_active:
        raise TokenRejected("token_user_inactive", "The API token's user is inactive.")
    api_token_touch(token=token, now=now)
    return token


def api_token_touch(*, token: ApiToken, now: dt.datetime) -> None:
    """Record a use, at most once per LAST_USED_PRECISION: a conditional UPDATE, so two
    concurrent requests write once, and a recently used token costs no write at all."""
    threshold = now - LAST_USED_PRECISION
    if token.last_used_at is not None and token.last_used_at > threshold:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=threshold), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now
