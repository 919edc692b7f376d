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


def account_validate(*, data: Mapping[str, Any], partial: bool = False) -> Validation:
    """Validate one row of account data; see ``accounts_validate``."""
    return accounts_validate(rows=[data], partial=partial)[0]


def accounts_validate(
    *,
    rows: Sequence[Mapping[str, Any]],
    partial: bool | Sequence[bool] = False,
    owners: QuerySet[User] | None = None,
    owner_unknown: str = OWNER_UNKNOWN,
) -> list[Validation]:
    """Validate rows of account data, one ``Validation`` per row, in order.

    Steps: each field the row gives is cleaned on its own (unknown keys are errors);
    unless the row is ``partial`` (one flag for all rows, or one per row: an update of
    an existing account), ``external_id`` and ``name`` must be given; then the owners'
    usernames of all rows are resolved with one query among ``owners`` (default:
    everyone). A username not found there is an error on ``owner`` worded by
    ``owner_unknown``, an inactive user one worded by ``OWNER_INACTIVE``. Only the
    fields a row gives appear in its ``cleaned`` dict, so an update through it leaves
    the other fields alone.
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
    return results


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
