"""Positions in an ordered list, for reading it a stretch at a time by index.

A list's ordering, read off its queryset, becomes sort keys ending with the primary
key (``sort_keys``), so every row has a position of its own. ``parts_after`` cuts "the
rows after this position" into ranges that follow each other in the order, and
``parts_of`` cuts the whole list at the first key's NULLs; each part is one stretch of
an index on the keys, so reading a page costs the page, not the rows before it. The
API's cursor pages (config/api.py) and the account list's numbered pages over a
sort on a related column (accounts/pagination.py) read lists this way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy


class Key(NamedTuple):
    """One sort key of a list: the lookup it reads, its direction, and where its NULLs
    go ("last", "first", or None for a column that has none)."""

    name: str
    descending: bool
    nulls: str | None

    def order(self) -> OrderBy:
        return OrderBy(
            F(self.name),
            descending=self.descending,
            nulls_last=True if self.nulls == "last" else None,
            nulls_first=True if self.nulls == "first" else None,
        )

    def flipped(self) -> Key:
        nulls = {"last": "first", "first": "last"}.get(self.nulls or "")
        return Key(self.name, not self.descending, nulls)


def sort_keys(queryset: QuerySet) -> list[Key]:
    """The queryset's ordering as keys ending with the primary key, so that every row
    has a position of its own. A nullable column sorted without saying where its NULLs
    go gets them last, on every database."""
    query = queryset.all().query  # resolving a lookup may add a join: not to the caller's
    ordering = list(
        query.order_by or (query.get_meta().ordering or [] if query.default_ordering else [])
    )
    keys: list[Key] = []
    for item in ordering:
        if isinstance(item, OrderBy) and isinstance(item.expression, F):
            name, descending = str(item.expression.name), item.descending  # type: ignore[attr-defined]
            nulls = "last" if item.nulls_last else "first" if item.nulls_first else None
        elif isinstance(item, str) and item != "?":
            name, descending, nulls = item.lstrip("-"), item.startswith("-"), None
        else:
            raise ImproperlyConfigured(f"A cursor cannot follow the ordering {item!r}.")
        if nulls is None:
            target = getattr(query.resolve_ref(name), "target", None)
            if target is not None and target.is_relation:
                name = f"{name}_id"  # by the key, not by the related model's own ordering
            nulls = "last" if target is not None and target.null else None
        keys.append(Key(name, descending, nulls))
        if name in ("pk", "id"):
            return keys
    return [*keys, Key("pk", False, None)]


class Part(NamedTuple):
    """One range of a list: the rows ``where`` matches, read in the order of ``keys``
    (the list's keys but those the range holds NULL, which would only hide the rest
    of the order from an index)."""

    where: Q
    keys: list[Key]


def _part(where: Q, keys: list[Key], nulled: list[str]) -> Part:
    return Part(where, [key for key in keys if key.name not in nulled])


def parts_after(keys: list[Key], values: list[Any]) -> list[Part]:
    """The rows that come after the position ``values`` in the order of ``keys``, as
    ranges that follow each other in that order: level with the position on every key
    but the last and past it on that one, then level on one key fewer, and so on, with
    a key's NULLs a range of their own. Each range is one stretch of an index on the
    keys, so a page reads its own rows, not the rows before it (an OR of the ranges
    would hide the bounds from the planner)."""
    parts: list[Part] = []
    level, nulled = Q(), list[str]()
    for key, value in zip(keys, values, strict=True):
        null = Q(**{f"{key.name}__isnull": True})
        if value is None:
            if key.nulls == "first":
                parts.append(_part(level & Q(**{f"{key.name}__isnull": False}), keys, nulled))
            level &= null
            nulled = [*nulled, key.name]
            continue
        past = [
            _part(
                level & Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": value}),
                keys,
                nulled,
            )
        ]
        if key.nulls == "last":
            past.append(_part(level & null, keys, [*nulled, key.name]))
        parts += reversed(past)  # reversed again below: the non-null range first
        level &= Q(**{key.name: value})
    return parts[::-1]


def parts_of(keys: list[Key]) -> list[Part]:
    """The whole list in ranges that follow each other in the order: the rows with a
    value for the first key, and those without (after or before them, as the key puts
    its NULLs). A sort on a related row's column (the latest score) thus reads the rows
    that have one in that index's order, joined as an inner join, and the others in
    the order of the keys after it, instead of sorting an outer join of the whole book."""
    first = keys[0]
    if first.nulls is None:
        return [Part(Q(), keys)]
    valued = Part(Q(**{f"{first.name}__isnull": False}), keys)
    null = _part(Q(**{f"{first.name}__isnull": True}), keys, [first.name])
    return [valued, null] if first.nulls == "last" else [null, valued]


def read_parts(queryset: QuerySet, parts: list[Part], start: int, stop: int) -> list:
    """Rows ``start`` to ``stop`` of the list that ``parts`` cut ``queryset`` into, as
    ``queryset[start:stop]`` would give them: a part that ends before ``start`` is
    counted (no further than ``start``) and skipped, the next read from where it
    left off."""
    rows: list = []
    skip = start
    for part in parts:
        wanted = stop - start - len(rows)
        if wanted <= 0:
            break
        rows += ordered(queryset.filter(part.where), part.keys)[skip : skip + wanted]
        if rows:
            skip = 0
        elif skip:
            skip -= queryset.filter(part.where).order_by()[:skip].count()
    return rows


def ordered(queryset: QuerySet, keys: list[Key]) -> QuerySet:
    """``queryset`` in the order of ``keys``, with where the NULLs go said outright."""
    return queryset.order_by(*(key.order() for key in keys))
