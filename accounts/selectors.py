"""Reads of accounts and people, and the one access-scope mechanism.

Every page and every API view asks ``accounts_visible_to`` which accounts a user
may see, and fetches single accounts through ``account_get_visible`` so that an
account outside the user's scope answers 404 exactly as a missing one does.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import Account, ApiToken, SavedView, Team, User
from config.errors import DomainError

# The churn cut-off, in its three forms (held together by tests/accounts/test_churn_cutoff.py):
# an account churned on a day is gone that day. It is not scored, alerted or counted as
# at risk from then on; a backtest counts it as churned by that day.


def is_customer(churned_at: dt.date | None, *, on: dt.date) -> bool:
    """Whether an account with this churn date was still a customer on ``on``."""
    return churned_at is None or churned_at > on


def customers_q(*, on: dt.date, prefix: str = "") -> Q:
    """Accounts that were still customers on ``on``: not churned, or churned later.
    ``prefix`` reaches the account from a related model ("account__")."""
    return Q(**{f"{prefix}churned_at__isnull": True}) | Q(**{f"{prefix}churned_at__gt": on})


def customers_sql(alias: str = "a") -> str:
    """``customers_q`` as SQL over account row ``alias``; takes the day as one parameter."""
    return f"({alias}.churned_at IS NULL OR {alias}.churned_at > %s)"


def churned_q(*, on: dt.date, prefix: str = "") -> Q:
    """Accounts that had churned by ``on`` (the complement of ``customers_q``)."""
    return Q(**{f"{prefix}churned_at__lte": on})


def account_scope_q(*, user: User) -> Q | None:
    """The filter that restricts accounts to ``user``'s scope; ``None`` means all.

    A CSM: accounts they own. A manager: accounts owned by members of the teams
    they manage, and their own, and the accounts nobody owns yet (theirs to hand out).
    An admin (or superuser): everything. Anyone inactive or anonymous: nothing.
    """
    return owner_scope_q(user=user, field="owner")


def owner_scope_q(*, user: User, field: str, no_owner: int | None = None) -> Q | None:
    """``account_scope_q`` over any rows keyed by owner: ``field`` names the owner (a
    foreign key or an owner's id), e.g. the book's figures, which a page sums over the
    owners of its user's scope; ``no_owner`` is the value that stands for nobody there
    (the figures' 0), else a null. ``None`` means all."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_admin:
        return None
    if user.is_manager:
        unowned = Q(**{f"{field}__isnull": True}) if no_owner is None else Q(**{field: no_owner})
        return Q(**{f"{field}__in": [*team_member_ids(user=user), user.pk]}) | unowned
    return Q(**{field: user.pk})


def team_member_ids(*, user: User) -> list[int]:
    """The people on the teams ``user`` manages, read once per user object (one request).

    A list of ids rather than a subquery: the planner estimates ``owner_id IN (…)``
    from the column's statistics, and its estimate is the count a large list shows
    ("about 50,100"); through a subquery it guessed ten times the manager's book.
    """
    cached = user.__dict__.get("_team_member_ids")
    if cached is None:
        cached = list(
            User.objects.filter(teams__managers=user).values_list("pk", flat=True).distinct()
        )
        user.__dict__["_team_member_ids"] = cached
    return cached


def accounts_visible_to(
    *, user: User, queryset: QuerySet[Account] | None = None
) -> QuerySet[Account]:
    qs = Account.objects.all() if queryset is None else queryset
    scope = account_scope_q(user=user)
    return qs if scope is None else qs.filter(scope)


def account_get_visible(
    *, user: User, pk: int, queryset: QuerySet[Account] | None = None
) -> Account:
    """The account ``pk`` if ``user`` may see it; Http404 otherwise (never 403)."""
    try:
        return accounts_visible_to(user=user, queryset=queryset).get(pk=pk)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise Http404("No such account.") from None


def owners_visible_to(*, user: User) -> QuerySet[User]:
    """The people whose books ``user`` may look at: the choices of the owner filter.

    The same people ``account_scope_q`` lets ``user`` see accounts of: a manager's team
    members and the manager, a CSM alone, for an admin everyone who owns an account.
    Deactivated people are included, so their accounts can still be found and handed
    over.
    """
    if not user.is_authenticated or not user.is_active:
        return User.objects.none()
    if user.is_admin:
        # A semi-join probing the owner index once per person, not a DISTINCT over a
        # join with every account of the book.
        owns = Account.objects.filter(owner=OuterRef("pk"))
        return User.objects.filter(Exists(owns)).order_by("username")
    if user.is_manager:
        return (
            User.objects.filter(Q(teams__managers=user) | Q(pk=user.pk))
            .distinct()
            .order_by("username")
        )
    return User.objects.filter(pk=user.pk)


def teams_managed_by(*, user: User) -> QuerySet[Team]:
    if user.is_admin:
        return Team.objects.all()
    return Team.objects.filter(managers=user)


def manager_of(*, user: User) -> User | None:
    """The first manager of the first team ``user`` belongs to (for "owner's manager")."""
    return (
        User.objects.filter(managed_teams__members=user, is_active=True)
        .order_by("managed_teams__name", "username")
        .first()
    )


def accounts_visible_to_token(
    *, token: ApiToken, queryset: QuerySet[Account] | None = None
) -> QuerySet[Account]:
    """What an API token reaches: its user's scope, or every account for a token without
    a user (an integration such as a CRM sync). Its scopes limit what it may do there."""
    if token.user is None:
        return Account.objects.all() if queryset is None else queryset
    return accounts_visible_to(user=token.user, queryset=queryset)


def token_reaches_every_account(*, token: ApiToken) -> bool:
    """Whether ``token`` reaches every account (an integration's, or an admin's): only
    such a token may create accounts. One limited to a person's book answers for an
    unused external id exactly as for another team's account (404), so it cannot learn
    which ids exist outside its reach, and creates nothing outside it."""
    return token.user is None or account_scope_q(user=token.user) is None


def account_get_visible_to_token(
    *, token: ApiToken, external_id: str, queryset: QuerySet[Account] | None = None
) -> Account:
    """The account with this external id if ``token`` reaches it; Http404 otherwise."""
    if "\x00" in external_id:  # no account has one, and PostgreSQL cannot even look it up
        raise Http404("No such account.")
    try:
        return accounts_visible_to_token(token=token, queryset=queryset).get(
            external_id=external_id
        )
    except Account.DoesNotExist:
        raise Http404("No such account.") from None


def owners_assignable_by_token(*, token: ApiToken) -> QuerySet[User]:
    """Who a token may make an account's owner: anyone active for a token without a
    user or an admin's; otherwise the people whose books its user may look at, so a
    token never writes an account out of its own reach."""
    if token.user is None or token.user.is_admin:
        return User.objects.filter(is_active=True)
    return owners_visible_to(user=token.user).filter(is_active=True)


# --- Saved views and bulk actions on the account list ------------------------------------

# A selection named row by row is one page of the list at most; beyond that, "all that
# match the filter" names it by its filter instead.
SELECTED_MAX = 1000


class SelectionOutOfScope(DomainError):
    """Some of the accounts a bulk action names are not the user's to act on (or do not
    exist): the action is refused whole, as a 404 would refuse one of them."""

    status_code = 404
    code = "not_found"


def teams_of(*, user: User) -> QuerySet[Team]:
    """The teams ``user`` may share a saved view with: those they are on or manage;
    every team for an admin."""
    if not user.is_authenticated or not user.is_active:
        return Team.objects.none()
    if user.is_admin:
        return Team.objects.all()
    return Team.objects.filter(Q(members=user) | Q(managers=user)).distinct()


def saved_views_visible_to(*, user: User) -> QuerySet[SavedView]:
    """The saved views ``user`` may open: their own, and those shared with a team they
    are on or manage. An admin sees their own and every shared view (they look after
    the teams), never another person's personal ones. One query, owner and team with it."""
    if not user.is_authenticated or not user.is_active:
        return SavedView.objects.none()
    shared = (
        Q(team__isnull=False)
        if user.is_admin
        else Q(team__in=Team.objects.filter(Q(members=user) | Q(managers=user)).values("pk"))
    )
    return SavedView.objects.filter(Q(owner=user) | shared).select_related("owner", "team")


def saved_view_get_own(*, user: User, pk: int) -> SavedView:
    """The saved view ``pk`` if ``user`` owns it — only its owner renames or deletes it;
    Http404 otherwise, for a team-mate's view as for a missing one."""
    try:
        return SavedView.objects.select_related("team").get(
            pk=pk, owner=user, owner__is_active=True
        )
    except (SavedView.DoesNotExist, ValueError, TypeError):
        raise Http404("No such saved view.") from None


def owners_assignable_by(*, user: User) -> QuerySet[User]:
    """Who ``user`` may hand accounts to in a bulk reassignment: an admin anyone active;
    a manager the active members of the teams they manage, and themselves; a CSM no one
    (their scope is their own book: handing it over is their manager's call)."""
    if not user.is_authenticated or not user.is_active:
        return User.objects.none()
    if user.is_admin:
        return User.objects.filter(is_active=True).order_by("username")
    if user.is_manager:
        return (
            User.objects.filter(Q(teams__managers=user) | Q(pk=user.pk), is_active=True)
            .distinct()
            .order_by("username")
        )
    return User.objects.none()


def accounts_selected(*, user: User, ids: list[int]) -> QuerySet[Account]:
    """The accounts ``ids`` as one queryset, when ``user`` may see every one of them.

    One query checks them all: if any is out of scope or missing, ``SelectionOutOfScope``
    names those ids and nothing is acted on, so a bulk action is never half-done. An id
    out of scope and a missing one read alike, as their pages do (404)."""
    wanted = sorted(set(ids))
    if not wanted:
        raise DomainError(
            "Select at least one account.", fields={"account": ["Select at least one account."]}
        )
    if len(wanted) > SELECTED_MAX:
        raise DomainError(
            f"At most {SELECTED_MAX:,} accounts can be selected one by one ({len(wanted):,} "
            "were); select all that match the filter instead.",
            fields={"account": ["Too many accounts selected."]},
        )
    found = set(accounts_visible_to(user=user).filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:10]) + (" …" if len(missing) > 10 else "")
        message = (
            f"{len(missing)} of the {len(wanted)} selected accounts are not in your book or no "
            f"longer exist (id {shown}); nothing was changed."
        )
        raise SelectionOutOfScope(message, fields={"account": [message]})
    return Account.objects.filter(pk__in=wanted)
