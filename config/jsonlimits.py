"""JSON from outside, read with a limit on how deeply it nests.

Python's parser recurses once per level and gives up near a thousand levels with a
RecursionError, which is no ValueError: a body nested 5,000 levels deep would be a
crash, and one nested 900 levels deep would parse and then crash whatever walks it
next (validators, the database adapter, the JSON encoder). No account attribute,
rule parameter or batch needs more than a handful of levels, so anything deeper than
``MAX_DEPTH`` is refused as bad input, the same way from every door.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 32


class JsonTooDeep(ValueError):
    """The JSON nests deeper than allowed; the message says so in words."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"The JSON nests deeper than {limit} levels of arrays and objects.")


def json_depth_check(value: Any, *, limit: int = MAX_DEPTH) -> Any:
    """``value`` unchanged, or ``JsonTooDeep`` if its arrays and objects nest deeper
    than ``limit``. Walks with a stack, not recursion, so any depth is safe to check."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise JsonTooDeep(limit)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


def json_loads(text: str | bytes, *, limit: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses JSON nested deeper than ``limit`` with ``JsonTooDeep``
    (a ValueError, like any other malformed JSON) instead of crashing."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(limit) from None
    return json_depth_check(value, limit=limit)


def json_nul_path(value: Any) -> str | None:
    """Where ``value`` holds a NUL character (\\u0000), as a key or in a string — e.g.
    ``['tier'][0]``, or ``''`` for a NUL string at the top — or None. PostgreSQL cannot
    store one in jsonb, so every door refuses it, naming the place."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if "\x00" in str(key):
                    return f"{path}[{key!r}]"
                stack.append((child, f"{path}[{key!r}]"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(item))))
    return None
