"""An account's place in its group of companies, for the account page: the parent it
belongs to, its subsidiaries with their latest health, and the group's rolled-up health.

Access follows each account's own owner (docs/hierarchies.md): a person sees the
subsidiaries in their scope, named and with their figures, and only how many others
there are; the parent is linked only when they may open it. The group's health is
computed over what they may see, so no figure of a hidden account shows through it.

``group_health`` is the roll-up's arithmetic over loaded accounts; ``account_group``
reads the group in one query (the subsidiaries with their latest health, the hidden
ones only counted) and rolls it up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q

from accounts.models import AT_RISK_LEVELS, RISK_ORDER, Account, RiskLevel, User
from accounts.selectors import account_scope_q, is_customer, owner_scope_q
from scoring.models import AccountHealth
from scoring.selectors import ACCOUNT_HEALTH_RELATED, account_health_get


@dataclass(frozen=True)
class GroupHealth:
    """The group's health: the parent and the subsidiaries counted, customers only.

    ``score`` is the ARR-weighted average of the scores of those that are scored (a
    plain average when their ARR is all zero); ``arr_at_risk`` the ARR of those at risk
    or critical, and ``at_risk_share`` its share of the group's ARR; ``worst`` the
    subsidiary at the worst risk level (the larger ARR first among equals)."""

    score: float | None
    scored: int
    members: int
    arr: Decimal
    arr_at_risk: Decimal
    at_risk_share: float | None
    worst: Account | None
    worst_health: AccountHealth | None

    @property
    def worst_level_label(self) -> str:
        if self.worst_health is None:
            return ""
        return RiskLevel(self.worst_health.level).label


def group_health(*, parent: Account, children: list[Account], today: dt.date) -> GroupHealth:
    """The roll-up of ``parent`` and ``children`` (accounts loaded with their latest
    health): those that have churned by ``today`` are left out, as the book leaves them
    out of its figures."""
    members = [a for a in [parent, *children] if is_customer(a.churned_at, on=today)]
    weighted = Decimal(0)
    weights = Decimal(0)
    plain: list[float] = []
    arr = Decimal(0)
    at_risk = Decimal(0)
    worst: tuple[tuple[int, Decimal], Account, AccountHealth] | None = None
    for account in members:
        arr += account.arr
        health = account_health_get(account=account)
        if health is None or health.score is None:
            continue
        plain.append(health.score)
        weighted += Decimal(repr(health.score)) * account.arr
        weights += account.arr
        if health.level in AT_RISK_LEVELS:
            at_risk += account.arr
        if account is not parent and health.level:
            rank = (RISK_ORDER[health.level], account.arr)
            if worst is None or rank > worst[0]:
                worst = (rank, account, health)
    if not plain:
        score = None
    elif weights:
        score = float(weighted / weights)
    else:
        score = sum(plain) / len(plain)
    return GroupHealth(
        score=score,
        scored=len(plain),
        members=len(members),
        arr=arr,
        arr_at_risk=at_risk,
        at_risk_share=float(at_risk / arr) if arr else None,
        worst=worst[1] if worst else None,
        worst_health=worst[2] if worst else None,
    )


@dataclass
class AccountGroup:
    """What the account page shows of ``account``'s group, for one viewer."""

    parent: Account | None = None  # linked: the viewer may open it
    parent_hidden: bool = False  # it has a parent the viewer may not open
    children: list[Account] = field(default_factory=list)
    hidden_children: int = 0
    health: GroupHealth | None = None


def account_group(*, account: Account, user: User, today: dt.date) -> AccountGroup:
    """``account``'s parent and subsidiaries as ``user`` may see them, and the roll-up.

    ``account`` loaded with ``account_with_parent`` costs no query for the parent, nor any
    when it has no subsidiaries. The subsidiaries are one query: each with its owner and latest health and whether it is
    in ``user``'s scope; those out of it are dropped at once, counted only. The roll-up
    counts ``account`` itself and the visible subsidiaries.
    """
    group = AccountGroup()
    if account.parent_id is not None:
        if getattr(account, "parent_visible", False):
            group.parent = account.parent
        else:
            group.parent_hidden = True
    if not getattr(account, "has_children", True):
        return group
    rows = (
        Account.objects.filter(parent=account)
        .select_related("owner", *ACCOUNT_HEALTH_RELATED)
        .annotate(in_scope=_visible(account_scope_q(user=user)))
        .order_by("name", "pk")
    )
    for child in rows:
        if child.in_scope:
            group.children.append(child)
        else:
            group.hidden_children += 1
    if group.children or group.hidden_children:
        group.health = group_health(parent=account, children=group.children, today=today)
    return group


def account_with_parent(*, user: User) -> tuple[str, dict[str, ExpressionWrapper | Exists]]:
    """The ``select_related`` name and the annotations that load an account's parent with
    whether ``user`` may open it, and whether it has subsidiaries, for ``account_group``:
    the account page reads them with the account, in its one query, so an account on its
    own costs no query more."""
    scope = owner_scope_q(user=user, field="parent__owner")
    return "parent", {
        "parent_visible": _visible(scope),
        "has_children": Exists(Account.objects.filter(parent=OuterRef("pk"))),
    }


def _visible(scope: Q | None) -> ExpressionWrapper:
    return ExpressionWrapper(Q(pk__isnull=False) if scope is None else scope, BooleanField())
