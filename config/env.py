"""Tiny typed readers for settings from the environment.

Each one fails loudly, naming the variable, when a value cannot be read: a
misconfigured deployment should stop at start-up, not misbehave at 2 a.m.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


# A key Django's own deployment check calls weak, or one copied from documentation.
_SECRET_MIN_LENGTH = 50
_SECRET_MIN_UNIQUE = 5
_PLACEHOLDERS = ("insecure", "change-me", "changeme", "example", "not-a-secret", "secret-key")


def env_secret_key(name: str = "SECRET_KEY") -> str:
    """A required secret key, refused unless it looks random: 50 characters or more, at
    least 5 different ones, and none of the words of a placeholder or a default."""
    value = env_str(name)
    lowered = value.lower()
    weak = (
        len(value) < _SECRET_MIN_LENGTH
        or len(set(value)) < _SECRET_MIN_UNIQUE
        or any(word in lowered for word in _PLACEHOLDERS)
    )
    if weak:
        raise ImproperlyConfigured(
            f"{name} is weak or a default: use 50 or more random characters, e.g. the "
            'output of python3 -c "import secrets; print(secrets.token_urlsafe(50))".'
        )
    return value
