"""Writes of accounts: validating account data and upserting it by external id.

Every entry point that takes account data from outside — the CSV importer, the REST
API, the demo seeder — goes through the same two steps:

1. ``accounts_validate`` (or ``account_validate`` for one row) turns raw values
   (strings from a CSV cell, JSON values from the API) into model values and
   returns errors keyed by field name, so a caller can say what is wrong and where;
2. ``account_upsert`` / ``accounts_bulk_upsert`` write the cleaned values, creating
   an account for an unknown external id and updating the fields given otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, NamedTuple

from django.db import models, transaction

from accounts.models import Account, User
from config.jsonlimits import JsonTooDeep, json_depth_check, json_loads

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

UPSERT_BATCH_SIZE = 1000

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


def account_validate(*, data: Mapping[str, Any], partial: bool = False) -> Validation:
    """Validate one row of account data; see ``accounts_validate``."""
    return accounts_validate(rows=[data], partial=partial)[0]


def accounts_validate(
    *, rows: Sequence[Mapping[str, Any]], partial: bool = False
) -> list[Validation]:
    """Validate rows of account data, one ``Validation`` per row, in order.

    Steps: each field the row gives is cleaned on its own (unknown keys are errors);
    unless ``partial``, ``external_id`` and ``name`` must be given; then the owners'
    usernames of all rows are resolved with one query, an unknown username being an
    error on ``owner``. Only the fields a row gives appear in its ``cleaned`` dict,
    so an update through it leaves the other fields alone.
    """
    results = [_clean_fields(row, partial=partial) for row in rows]
    usernames = {
        result.cleaned["owner"]
        for result in results
        if isinstance(result.cleaned.get("owner"), str)
    }
    owners = {
        user.username: user for user in User.objects.filter(username__in=usernames).order_by()
    }
    for result in results:
        username = result.cleaned.get("owner")
        if isinstance(username, str):
            if username in owners:
                result.cleaned["owner"] = owners[username]
            else:
                result.cleaned.pop("owner")
                result.errors["owner"] = [f"No user has the username '{username}'."]
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


def _text(value: Any, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("Must be text.")
    value = value.strip()
    if required and not value:
        raise Invalid("This field is required.")
    if len(value) > max_length:
        raise Invalid(f"At most {max_length} characters (this has {len(value)}).")
    return value


def _clean_external_id(value: Any) -> str:
    return _text(value, max_length=100, required=True)


def _clean_name(value: Any) -> str:
    return _text(value, max_length=200, required=True)


_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def domain_clean(value: Any) -> str:
    """An account's domain from what a CRM holds: ``acme.example``, also from a website
    (``https://www.acme.example:8443/pricing`` gives ``www.acme.example``); empty is
    allowed. Anything that is not a host name (``javascript:alert(7)``, spaces, markup)
    raises ``Invalid``. The one check for every door: CSV import, API, admin."""
    text = _text(value, max_length=253).lower()
    # CRM exports often hold a website rather than a domain.
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/", 1)[0]
    domain = re.sub(r":\d{1,5}$", "", domain).removesuffix(".")
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


def account_upsert(*, external_id: str, **fields: Any) -> tuple[Account, bool]:
    """Create the account ``external_id`` or update the fields given; returns (account, created).

    ``fields`` are cleaned values (see ``accounts_validate``); fields not given keep
    their stored value, or the model default for a new account.
    """
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"account_upsert() got unknown fields: {', '.join(sorted(unknown))}")
    return Account.objects.update_or_create(external_id=external_id, defaults=fields)


@dataclass
class UpsertResult:
    """The external ids written by ``accounts_bulk_upsert``, split by what happened."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def accounts_bulk_upsert(
    *,
    rows: Iterable[Mapping[str, Any]],
    batch_size: int = UPSERT_BATCH_SIZE,
    merge_attributes: bool = False,
) -> UpsertResult:
    """Upsert cleaned rows by external id, ``batch_size`` rows per transaction.

    Each row creates its account or updates the fields it gives (others keep their
    value). A repeated external id is applied over the earlier row: it wins for the
    fields it gives. With ``merge_attributes``, a row's attributes are merged into
    the stored ones instead of replacing them.

    Per batch: one query finds which external ids exist (and their attributes when
    merging), then one ``INSERT … ON CONFLICT (external_id) DO UPDATE`` per distinct
    set of fields given — so a batch costs a handful of queries whatever its size.
    The write itself is safe against concurrent writers; the created/updated split
    comes from the existence check, so a row created by someone else in between is
    counted as created.
    """
    result = UpsertResult()
    written: set[str] = set()
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        # A repeated external id in a batch is applied on top of the earlier row, exactly
        # as it is when the repeat falls in a later batch.
        by_id: dict[str, dict[str, Any]] = {}
        for row in batch:
            earlier = by_id.get(row["external_id"])
            by_id[row["external_id"]] = (
                dict(row) if earlier is None else _apply(earlier, row, merge_attributes)
            )
        with transaction.atomic():
            existing = _existing(external_ids=list(by_id), with_attributes=merge_attributes)
            groups: dict[tuple[str, ...], list[Account]] = {}
            for external_id, values in by_id.items():
                if merge_attributes and "attributes" in values and external_id in existing:
                    values = {
                        **values,
                        "attributes": {**existing[external_id], **values["attributes"]},
                    }
                given = tuple(sorted(set(values) - {"external_id"}))
                groups.setdefault(given, []).append(Account(**values))
            for given, accounts in groups.items():
                Account.objects.bulk_create(
                    accounts,
                    update_conflicts=True,
                    unique_fields=["external_id"],
                    update_fields=[*given, "updated_at"],
                )
        for external_id in by_id:
            if external_id in written:
                continue
            written.add(external_id)
            (result.updated if external_id in existing else result.created).append(external_id)
    return result


def _apply(
    earlier: Mapping[str, Any], later: Mapping[str, Any], merge_attributes: bool
) -> dict[str, Any]:
    """``later`` written over ``earlier``: given fields replace, attributes may merge."""
    values = {**earlier, **later}
    if merge_attributes and "attributes" in earlier and "attributes" in later:
        values["attributes"] = {**earlier["attributes"], **later["attributes"]}
    return values


def _existing(*, external_ids: list[str], with_attributes: bool) -> dict[str, dict[str, Any]]:
    """The external ids among ``external_ids`` that exist, with their attributes if asked."""
    existing = Account.objects.filter(external_id__in=external_ids).order_by()
    if with_attributes:
        return dict(existing.values_list("external_id", "attributes"))
    return {external_id: {} for external_id in existing.values_list("external_id", flat=True)}
