"""Which scoring model applies to an account: the one definition.

A scoring model version has a filter over account fields (``FILTER_FIELDS``; an empty
value matches any account). Of the models considered, an account is scored by the
*most specific* one whose filter matches it (the most filter fields set), the older
one (lower id) on a tie. Every part of the product that needs the answer derives it
from ``ModelFilter`` and ``choose``:

- ``choice_sql``: the CASE the recompute, what-if and benchmarks compute per account row;
- ``choose``: the same in Python (one account as of a date, tests);
- ``claimed_q``: the accounts a model would get among rivals, for the ORM (preview).

``tests/scoring/test_applicability.py`` holds the three together on random filters and
accounts. A new filter dimension is a field on both ``Account`` and ``ScoringModel``
with the same name, added to ``FILTER_FIELDS`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

from scoring.sql import Sql

# Account fields a scoring model can be limited to, in the order they are described.
FILTER_FIELDS = ("segment", "plan", "lifecycle_stage")


@dataclass(frozen=True)
class ModelFilter:
    """A model version's filter: its id and the wanted value per field ("" = any)."""

    id: int
    wanted: tuple[str, ...]

    @classmethod
    def of(cls, model: Any) -> ModelFilter:
        """The filter of a ``ScoringModel`` (or anything with its filter fields)."""
        return cls(int(model.pk), tuple(getattr(model, name) or "" for name in FILTER_FIELDS))

    @classmethod
    def unconditional(cls, model_id: int) -> ModelFilter:
        """A filter that matches every account: a model scoring accounts chosen for it."""
        return cls(int(model_id), ("",) * len(FILTER_FIELDS))

    @property
    def conditions(self) -> dict[str, str]:
        return {
            name: value for name, value in zip(FILTER_FIELDS, self.wanted, strict=True) if value
        }

    @property
    def specificity(self) -> int:
        return len(self.conditions)

    @property
    def precedence(self) -> tuple[int, int]:
        """Sort key: the filter that wins comes first."""
        return (-self.specificity, self.id)

    def matches(self, account: Mapping[str, Any] | Any) -> bool:
        """Whether an account (an ``Account`` or a mapping of its fields) passes the filter."""
        return all(_field(account, name) == value for name, value in self.conditions.items())

    def q(self, prefix: str = "") -> Q:
        """The filter as an ORM condition on accounts (``prefix``: e.g. ``"account__"``)."""
        return Q(**{f"{prefix}{name}": value for name, value in self.conditions.items()})


def _field(account: Mapping[str, Any] | Any, name: str) -> Any:
    if isinstance(account, Mapping):
        return account[name]
    return getattr(account, name)


def ordered(filters: Iterable[ModelFilter]) -> list[ModelFilter]:
    """The filters in the order they are tried: the first that matches wins."""
    return sorted(filters, key=lambda f: f.precedence)


def choose(filters: Iterable[ModelFilter], account: Mapping[str, Any] | Any) -> int | None:
    """The id of the model that scores ``account`` among ``filters``, or None."""
    return next((f.id for f in ordered(filters) if f.matches(account)), None)


def choice_sql(filters: Iterable[ModelFilter], sql: Sql, *, alias: str = "a") -> None:
    """Append a CASE giving, for account row ``alias``, the id of the model that scores it
    (NULL when none applies)."""
    tried = ordered(filters)
    if not tried:
        sql.add("NULL")
        return
    sql.add("CASE")
    for f in tried:
        conditions = f.conditions
        text = " AND ".join(f"{alias}.{name} = %s" for name in conditions) or "1 = 1"
        sql.add(f" WHEN {text} THEN {int(f.id)}", *conditions.values())
    sql.add(" END")


def claimed_q(model: ModelFilter, rivals: Sequence[ModelFilter], prefix: str = "") -> Q:
    """The accounts ``model`` scores when ``rivals`` are active beside it: those that match
    its filter and no rival's that takes precedence."""
    ahead = [r for r in rivals if r.id != model.id and r.precedence < model.precedence]
    if any(not r.conditions for r in ahead):
        # A rival that matches every account and comes first leaves this model none.
        return Q(**{f"{prefix}pk__in": []})
    q = model.q(prefix)
    if ahead:
        q &= ~reduce(or_, (r.q(prefix) for r in ahead))
    return q
