"""Validating account data from outside: one set of rules for every door.

CSV import, the REST API, Django admin and the demo and sample seeders all turn raw
values into model values here, so an account means the same whichever way it came in:

- text is stripped; ``external_id`` may be a number (CRM ids often are) but no other
  field may, and no text holds a NUL character;
- an external id is how the API addresses an account, so it may not contain ``/`` nor
  be ``bulk``;
- a domain is lower-cased and cut to its host name: scheme, port, path and a leading
  ``www.`` go (``https://www.Acme.example/x`` is ``acme.example``);
- ``segment`` and ``lifecycle_stage`` take a value (``mid_market``) or its label
  (``Mid-market``), in any letter case;
- ``owner`` is a username of an *active* user: a departed CSM receives no accounts;
- ``parent`` is the external id of the parent company, an account that exists or is
  given in the same rows; never the account itself nor one of its own subsidiaries
  (a loop), and no tree deeper than ``HIERARCHY_MAX_DEPTH`` levels;
- ``arr`` is a number ≥ 0 with at most two decimals; dates are ``YYYY-MM-DD``;
  ``attributes`` is a JSON object (or its text), nested at most 32 levels, without NULs.

Errors are keyed by field name, one message each, so every door can say what is wrong
and where (the CSV import adds the line, the API the row's index).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.db import models
from django.db.models import QuerySet

from accounts.models import Account, User
from config.jsonlimits import JsonTooDeep, json_depth_check, json_loads, json_nul_path

# The account fields that outside data may set, in the order of the CSV columns.
ACCOUNT_FIELDS: tuple[str, ...] = (
    "external_id",
    "name",
    "domain",
    "owner",
    "parent",
    "segment",
    "plan",
    "lifecycle_stage",
    "arr",
    "contract_start",
    "renewal_date",
    "churned_at",
    "attributes",
)
REQUIRED_FIELDS: tuple[str, ...] = ("external_id", "name")
# Fields without an empty value: a row either gives one or leaves the field alone.
FIELDS_WITHOUT_BLANK: tuple[str, ...] = ("segment", "lifecycle_stage", "arr")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ARR_MAX_INTEGER_DIGITS = 12  # max_digits=14, decimal_places=2
_ARR_LIMIT = Decimal(10) ** _ARR_MAX_INTEGER_DIGITS


class Invalid(Exception):
    """One field's value cannot be used; the message says why."""


class Validation(NamedTuple):
    """The outcome of validating one row of account data.

    ``cleaned`` holds model values for the fields the row gave (``owner`` as a
    ``User`` or ``None``) and is only complete when ``errors`` is empty.
    ``errors`` maps a field name to its messages.
    """

    cleaned: dict[str, Any]
    errors: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors


OWNER_UNKNOWN = "No user has the username '{username}'."
OWNER_INACTIVE = "The user '{username}' is inactive: accounts go to active users only."
OWNER_REQUIRED = "A token acting for a person may not leave an account without an owner."

# Levels of a tree of accounts: a group, its subsidiaries, theirs, and one level more.
HIERARCHY_MAX_DEPTH = 4
PARENT_UNKNOWN = "No account has the external id '{parent}' (nor does any row given with it)."
PARENT_SELF = "An account cannot be its own parent."
PARENT_LOOP = "'{parent}' is a subsidiary of this account ({path}): that would be a loop."
PARENT_TOO_DEEP = (
    "Too deep: under '{parent}' this account's tree would reach {depth} levels; at most {limit}."
)
PARENT_REFUSED = "The parent '{parent}' is given in a row that was refused."


def account_validate(*, data: Mapping[str, Any], partial: bool = False) -> Validation:
    """Validate one row of account data; see ``accounts_validate``."""
    return accounts_validate(rows=[data], partial=partial)[0]


def accounts_validate(
    *,
    rows: Sequence[Mapping[str, Any]],
    partial: bool | Sequence[bool] = False,
    owners: QuerySet[User] | None = None,
    owner_unknown: str = OWNER_UNKNOWN,
    owner_required: bool = False,
    parents: QuerySet[Account] | None = None,
) -> list[Validation]:
    """Validate rows of account data, one ``Validation`` per row, in order.

    Steps: each field the row gives is cleaned on its own (unknown keys are errors);
    unless the row is ``partial`` (one flag for all rows, or one per row: an update of
    an existing account), ``external_id`` and ``name`` must be given; then the owners'
    usernames of all rows are resolved with one query among ``owners`` (default:
    everyone). A username not found there is an error on ``owner`` worded by
    ``owner_unknown``, an inactive user one worded by ``OWNER_INACTIVE``; with
    ``owner_required``, an owner given as empty is an error too. Last, the parents the
    rows name are checked together (``_parents_check``): a row may name a parent given
    by another row of the same call, and a row refused for any reason cannot be one; a
    stored parent must be among ``parents`` (default: every account), one outside them
    reading exactly as an unknown one.
    Only the fields a row gives appear in its ``cleaned`` dict, so an update through it
    leaves the other fields alone.
    """
    flags = [partial] * len(rows) if isinstance(partial, bool) else list(partial)
    results = [_clean_fields(row, partial=flag) for row, flag in zip(rows, flags, strict=True)]
    usernames = {
        result.cleaned["owner"]
        for result in results
        if isinstance(result.cleaned.get("owner"), str)
    }
    candidates = User.objects.all() if owners is None else owners
    found = (
        {user.username: user for user in candidates.filter(username__in=usernames).order_by()}
        if usernames
        else {}
    )
    for result in results:
        username = result.cleaned.get("owner")
        if not isinstance(username, str):
            continue
        owner = found.get(username)
        if owner is not None and owner.is_active:
            result.cleaned["owner"] = owner
            continue
        result.cleaned.pop("owner")
        message = owner_unknown if owner is None else OWNER_INACTIVE
        result.errors["owner"] = [message.format(username=username)]
    if owner_required:
        for result in results:
            if "owner" in result.cleaned and result.cleaned["owner"] is None:
                result.errors.setdefault("owner", []).append(OWNER_REQUIRED)
    if any(result.cleaned.get("parent") for result in results):
        _parents_check(results, parents=parents)
    return results


def _parents_check(results: list[Validation], *, parents: QuerySet[Account] | None) -> None:
    """Refuse the parents among ``results`` that are unknown, the row's own account, one
    of its subsidiaries (a loop, however deep) or that make the tree too deep.

    The tree is the stored one with the rows' parents laid over it (a later row over an
    earlier one, as the upsert applies them). Steps: read the stored parents upwards
    from the named parents and the stored subsidiaries downwards from the rows'
    accounts, a level a query, at most ``HIERARCHY_MAX_DEPTH`` levels each way; then,
    until nothing changes, check each row that names a parent against the tree made of
    the rows not refused so far — a row refused drops out of it, and a row naming it
    as its parent is refused in turn.
    """
    stored, stored_children = _stored_tree(results)
    named = {result.cleaned["parent"] for result in results if result.cleaned.get("parent")}
    if parents is None:
        reachable = set(named) & set(stored)
    else:
        reachable = set(
            parents.filter(external_id__in=named).order_by().values_list("external_id", flat=True)
        )
    refused: set[int] = set()
    while True:
        tree = _Tree(stored, stored_children, reachable, {}, {}, given=set(), refused=set())
        for index, result in enumerate(results):
            external_id = result.cleaned.get("external_id")
            if external_id is None:
                continue
            if index in refused or result.errors:
                tree.refused.add(external_id)
                continue
            tree.given.add(external_id)
            if "parent" in result.cleaned:
                tree.laid[external_id] = result.cleaned["parent"]
        for child, parent in tree.laid.items():
            if parent is not None:
                tree.laid_children.setdefault(parent, set()).add(child)
        changed = False
        for index, result in enumerate(results):
            parent = result.cleaned.get("parent")
            if not parent or index in refused or result.errors:
                continue
            error = _parent_error(result.cleaned.get("external_id"), parent, tree)
            if error:
                result.errors["parent"] = [error]
                refused.add(index)
                changed = True
        if not changed:
            break
    for index in refused:
        results[index].cleaned.pop("parent", None)


def _stored_tree(
    results: list[Validation],
) -> tuple[dict[str, str | None], dict[str, set[str]]]:
    """The stored parent of each account near the rows' (external id → parent's, every
    account read), and the stored subsidiaries of each account read downwards."""
    stored: dict[str, str | None] = {}
    children: dict[str, set[str]] = {}
    upward: set[str | None] = {result.cleaned.get("parent") for result in results}
    # Upwards from the named parents, following both the stored and the given parents:
    # whichever rows are refused, every chain the check may walk has been read.
    given: dict[str, set[str | None]] = {}
    for result in results:
        if "parent" in result.cleaned and "external_id" in result.cleaned:
            given.setdefault(result.cleaned["external_id"], set()).add(result.cleaned["parent"])
    for _ in range(HIERARCHY_MAX_DEPTH + 1):
        wanted = [e for e in upward if e is not None and e not in stored]
        if not wanted:
            break
        rows = Account.objects.filter(external_id__in=wanted).values_list(
            "external_id", "parent__external_id"
        )
        stored.update(rows.order_by())
        upward = {stored.get(e) for e in wanted}.union(*(given.get(e, set()) for e in wanted))
    downward = {
        result.cleaned["external_id"]
        for result in results
        if result.cleaned.get("parent") and result.cleaned.get("external_id")
    }
    seen: set[str] = set()
    for _ in range(HIERARCHY_MAX_DEPTH):
        downward -= seen
        if not downward:
            break
        seen |= downward
        rows = Account.objects.filter(parent__external_id__in=list(downward)).values_list(
            "external_id", "parent__external_id"
        )
        found = set()
        for child, parent in rows.order_by():
            children.setdefault(parent, set()).add(child)
            stored.setdefault(child, parent)
            found.add(child)
        downward = found
    return stored, children


def _parent_error(
    external_id: str | None,
    parent: str,
    tree: _Tree,
) -> str | None:
    """What is wrong with ``parent`` as the parent of ``external_id``, or None."""
    if parent == external_id:
        return PARENT_SELF
    if parent not in tree.reachable and parent not in tree.given:
        template = PARENT_REFUSED if parent in tree.refused else PARENT_UNKNOWN
        return template.format(parent=parent)
    # Upwards from the parent: meeting the account itself is a loop.
    path = [parent]
    node = parent
    while (up := tree.parent_of(node)) is not None and len(path) <= HIERARCHY_MAX_DEPTH:
        if up == external_id:
            chain = " → ".join([external_id, *reversed(path), external_id])
            return PARENT_LOOP.format(parent=parent, path=chain)
        if up in path:  # a loop of other rows, refused on their own: checked again then
            return None
        path.append(up)
        node = up
    if external_id is None:
        return None
    # Downwards from the account: the levels of its own subsidiaries.
    below = 0
    level = {external_id}
    while level and below <= HIERARCHY_MAX_DEPTH:
        level = {child for node in level for child in tree.children_of(node)}
        below += bool(level)
    depth = len(path) + 1 + below
    if depth > HIERARCHY_MAX_DEPTH:
        return PARENT_TOO_DEEP.format(parent=parent, depth=depth, limit=HIERARCHY_MAX_DEPTH)
    return None


class _Tree(NamedTuple):
    """The tree of accounts as the rows not refused would leave it."""

    stored: dict[str, str | None]  # external id → its stored parent's, for those read
    stored_children: dict[str, set[str]]
    reachable: set[str]  # the stored accounts that may be named as a parent
    laid: dict[str, str | None]  # the rows' parents, later rows over earlier
    laid_children: dict[str, set[str]]  # the same, parent → its children
    given: set[str]  # the accounts the rows write
    refused: set[str]  # those of refused rows

    def parent_of(self, node: str) -> str | None:
        return self.laid[node] if node in self.laid else self.stored.get(node)

    def children_of(self, node: str) -> set[str]:
        candidates = self.stored_children.get(node, set()) | self.laid_children.get(node, set())
        return {child for child in candidates if self.parent_of(child) == node}


def _clean_fields(data: Mapping[str, Any], *, partial: bool) -> Validation:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        cleaner = _CLEANERS.get(key)
        if cleaner is None:
            errors[str(key)] = ["Unknown field."]
            continue
        try:
            cleaned[key] = cleaner(value)
        except Invalid as error:
            errors[key] = [str(error)]
    if not partial:
        for name in REQUIRED_FIELDS:
            if name not in data:
                errors[name] = ["This field is required."]
    return Validation(cleaned, errors)


def _text(value: Any, *, max_length: int, required: bool = False, number: bool = False) -> str:
    if value is None:
        value = ""
    if number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("Must be text.")
    value = value.strip()
    if required and not value:
        raise Invalid("This field is required.")
    if len(value) > max_length:
        raise Invalid(f"At most {max_length} characters (this has {len(value)}).")
    if "\x00" in value:
        raise Invalid("May not contain NUL (\\u0000) characters.")
    return value


def _clean_external_id(value: Any) -> str:
    external_id = _text(value, max_length=100, required=True, number=True)
    if "/" in external_id:
        raise Invalid("May not contain '/': it is part of the URL.")
    if external_id == "bulk":
        raise Invalid("'bulk' is reserved: /api/v1/accounts/bulk/.")
    return external_id


def _clean_name(value: Any) -> str:
    return _text(value, max_length=200, required=True)


_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def domain_clean(value: Any) -> str:
    """An account's domain from what a CRM holds: ``acme.example``, also from a website
    (``https://www.Acme.example:8443/pricing`` gives ``acme.example``); empty is
    allowed. Lower case; scheme, port, path, a trailing dot and a leading ``www.`` go, so
    one company has one domain however it was typed. Anything that is not a host name
    (``javascript:alert(7)``, spaces, markup) raises ``Invalid``."""
    text = _text(value, max_length=253).lower()
    # CRM exports often hold a website rather than a domain.
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/", 1)[0]
    domain = re.sub(r":\d{1,5}$", "", domain).removesuffix(".")
    if domain.startswith("www.") and "." in domain.removeprefix("www."):
        domain = domain.removeprefix("www.")
    if not domain:
        if text:
            raise Invalid(f"'{text}' is not a domain name.")
        return ""
    try:
        # International names (bücher.example) are checked in their ASCII form.
        ascii_name = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid(f"'{text}' is not a domain name.") from None
    if len(ascii_name) > 253 or not all(
        _DOMAIN_LABEL.fullmatch(label) for label in ascii_name.split(".")
    ):
        raise Invalid(f"'{text}' is not a domain name.")
    return domain


def _clean_plan(value: Any) -> str:
    return _text(value, max_length=100)


def _clean_owner(value: Any) -> str | None:
    """The owner's username; ``accounts_validate`` turns it into the user."""
    username = _text(value, max_length=150)
    return username or None


def _clean_parent(value: Any) -> str | None:
    """The parent's external id; ``accounts_validate`` checks the tree it makes."""
    external_id = _text(value, max_length=100, number=True)
    return external_id or None


def _choice_lookup(choices: type[models.TextChoices]) -> tuple[dict[str, str], str]:
    """Values and labels (any case) -> value, and the values for error messages."""
    lookup = {}
    for value, label in choices.choices:
        lookup[value.casefold()] = value
        lookup[str(label).casefold()] = value
    return lookup, ", ".join(choices.values)


_SEGMENTS = _choice_lookup(Account.Segment)
_STAGES = _choice_lookup(Account.Stage)


def _choice(value: Any, choices: tuple[dict[str, str], str]) -> str:
    lookup, allowed = choices
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"This field is required: one of {allowed}.")
    try:
        return lookup[value.strip().casefold()]
    except KeyError:
        raise Invalid(f"'{value.strip()}' is not one of {allowed}.") from None


def _clean_segment(value: Any) -> str:
    return _choice(value, _SEGMENTS)


def _clean_lifecycle_stage(value: Any) -> str:
    return _choice(value, _STAGES)


def _clean_arr(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise Invalid("Must be a number.")
    if isinstance(value, float):
        value = str(value)
    if isinstance(value, str):
        value = value.strip()
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise Invalid(f"'{value}' is not a number.") from None
    if not amount.is_finite():
        raise Invalid(f"'{value}' is not a number.")
    if amount < 0:
        raise Invalid(f"Must not be negative (got {value}).")
    if amount >= _ARR_LIMIT:
        raise Invalid(f"Too large: at most {_ARR_MAX_INTEGER_DIGITS} digits before the point.")
    rounded = amount.quantize(Decimal("0.01"))
    if rounded != amount:
        raise Invalid(f"At most 2 decimal places (got {value}).")
    return rounded


def _clean_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise Invalid("Must be a date (YYYY-MM-DD), not a date and time.")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise Invalid("Must be a date as YYYY-MM-DD.")
    text = value.strip()
    if not text:
        return None
    # fromisoformat alone would also take "20250131" or week dates like "2025-W05".
    if not _ISO_DATE.fullmatch(text):
        raise Invalid(f"'{text}' is not a date as YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"'{text}' is not a valid date.") from None


def _clean_attributes(value: Any) -> dict[str, Any]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    try:
        value = json_loads(value) if isinstance(value, str) else json_depth_check(value)
    except json.JSONDecodeError as error:
        raise Invalid(f"Not valid JSON ({error.msg} at character {error.pos + 1}).") from None
    except JsonTooDeep as error:
        raise Invalid(str(error)) from None
    if not isinstance(value, dict):
        raise Invalid('Must be a JSON object, such as {"industry": "retail"}.')
    where = json_nul_path(value)
    if where is not None:
        raise Invalid(f"May not contain NUL (\\u0000) characters (found at {where or 'the top'}).")
    return value


_CLEANERS = {
    "external_id": _clean_external_id,
    "name": _clean_name,
    "domain": domain_clean,
    "owner": _clean_owner,
    "parent": _clean_parent,
    "segment": _clean_segment,
    "plan": _clean_plan,
    "lifecycle_stage": _clean_lifecycle_stage,
    "arr": _clean_arr,
    "contract_start": _clean_date,
    "renewal_date": _clean_date,
    "churned_at": _clean_date,
    "attributes": _clean_attributes,
}
assert set(_CLEANERS) == set(ACCOUNT_FIELDS)
