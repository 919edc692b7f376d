"""Saved views of the account list: the one write path (pages, API and admin call it).

A saved view stores the list's query string, normalised here through the list's own
filter form (``accounts.filters.AccountFilter``) as its owner would fill it in:

1. only the list's parameters: any other (``page``, a typo) is refused by name;
2. each value is checked as the page checks it — an owner outside the owner's scope, a
   band no active model has, a sort the list does not know — and a refused value
   names its filter ("Band: Select a valid choice. …");
3. the query is rebuilt from the cleaned values (``AccountFilter.normal_query``): in
   the form's order, without the empty ones and with the sort always given, so the
   same filters are the same link.

Band names come from the scoring models, which this app does not import: the caller
passes them (``bands``), as the page passes them to its filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import QueryDict

from accounts.filters import account_list_filter
from accounts.models import SavedView, Team, User
from accounts.selectors import teams_of
from config.errors import DomainError

NAME_MAX = SavedView._meta.get_field("name").max_length or 100
QUERY_MAX = SavedView._meta.get_field("query").max_length or 2000


class SavedViewInvalid(DomainError):
    """A saved view that cannot be written as asked; ``field`` says which part."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, fields={field: [message]})
        self.field = field


def saved_view_query_clean(*, query: str, user: User, bands: Sequence[str]) -> str:
    """``query`` normalised as the account list reads it for ``user`` (steps above);
    ``SavedViewInvalid`` on ``query`` says which filter is wrong."""
    data = QueryDict(query.lstrip("?"))
    account_filter = account_list_filter(user=user, data=data, bands=list(bands))
    form = account_filter.form
    unknown = sorted(set(data) - set(form.fields))
    if unknown:
        raise SavedViewInvalid(
            f"Not a filter of the account list: {', '.join(unknown)}. "
            f"Its filters are {', '.join(form.fields)}.",
            field="query",
        )
    if not form.is_valid():
        raise SavedViewInvalid(
            "These filters cannot be saved: " + " ".join(account_filter.error_summary()),
            field="query",
        )
    cleaned = account_filter.normal_query()
    if len(cleaned) > QUERY_MAX:
        raise SavedViewInvalid(
            f"The filters are too long to save ({len(cleaned):,} characters; at most "
            f"{QUERY_MAX:,}): shorten the search.",
            field="query",
        )
    return cleaned


def _name_clean(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise SavedViewInvalid("Give the view a name.", field="name")
    if len(name) > NAME_MAX:
        raise SavedViewInvalid(
            f"At most {NAME_MAX} characters (this has {len(name)}).", field="name"
        )
    return name


def _name_taken(owner: User, name: str, view: SavedView | None) -> SavedViewInvalid | None:
    others = SavedView.objects.filter(owner=owner, name__iexact=name)
    if view is not None and view.pk is not None:
        others = others.exclude(pk=view.pk)
    if not others.exists():
        return None
    return SavedViewInvalid(
        f"{owner} already has a view called “{name}”: choose another name.", field="name"
    )


def saved_view_validate(
    *,
    owner: User,
    name: str,
    team: Team | None,
    query: str | None = None,
    bands: Sequence[str] = (),
    view: SavedView | None = None,
) -> dict[str, Any]:
    """The fields of a saved view as they would be stored (``name``, ``team`` and, when
    given, ``query`` normalised), or ``SavedViewInvalid`` naming the first wrong one:
    a blank or taken name, a team that is not the owner's, filters the list refuses.
    Admin's form calls it to show the error on its field; create and update call it
    before they write."""
    if not owner.is_active:
        raise SavedViewInvalid(f"{owner} is not an active user.", field="owner")
    cleaned: dict[str, Any] = {"name": _name_clean(name), "team": team}
    if team is not None and not teams_of(user=owner).filter(pk=team.pk).exists():
        raise SavedViewInvalid(
            f"{owner} is not on the team {team.name}: share a view with one of your teams.",
            field="team",
        )
    if query is not None:
        cleaned["query"] = saved_view_query_clean(query=query, user=owner, bands=bands)
    if taken := _name_taken(owner, cleaned["name"], view):
        raise taken
    return cleaned


def _saved(view: SavedView, *, update_fields: list[str] | None = None) -> SavedView:
    """Save ``view``. The database holds the name's uniqueness: a view of the same name
    saved meanwhile is refused as the check above refuses it."""
    try:
        with transaction.atomic():
            view.save(update_fields=update_fields)
    except IntegrityError:
        if taken := _name_taken(view.owner, view.name, view):
            raise taken from None
        raise
    return view


def saved_view_create(
    *,
    owner: User,
    name: str,
    query: str,
    bands: Sequence[str],
    now: dt.datetime,
    team: Team | None = None,
) -> SavedView:
    """A view of the list as ``query`` shows it, personal or shared with ``team`` (one
    of the owner's teams)."""
    cleaned = saved_view_validate(owner=owner, name=name, team=team, query=query, bands=bands)
    return _saved(SavedView(owner=owner, created_at=now, **cleaned))


def saved_view_update(
    *,
    view: SavedView,
    name: str,
    team: Team | None,
    bands: Sequence[str] = (),
    query: str | None = None,
) -> SavedView:
    """Rename a view, share or unshare it, and (with ``query``) change its filters.
    A query left alone is not checked again: a view whose band was since renamed can
    still be renamed or deleted, and the list says what is wrong when it is opened."""
    cleaned = saved_view_validate(
        owner=view.owner, name=name, team=team, query=query, bands=bands, view=view
    )
    for field, value in cleaned.items():
        setattr(view, field, value)
    return _saved(view, update_fields=list(cleaned))


def saved_views_delete(*, views: QuerySet[SavedView]) -> int:
    """Delete ``views`` (the caller has checked they are the actor's); returns how many."""
    deleted, _ = views.delete()
    return deleted
