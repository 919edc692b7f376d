"""Writing accounts: the one upsert by external id, and deleting.

Every door writes through ``accounts_bulk_upsert`` — the CSV import and the API in
batches, admin and the seeders through ``account_upsert`` and ``accounts_save`` — with
values cleaned by ``accounts.services.validation``. Deleting goes through
``accounts_delete``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account, ArrChange
from accounts.services.validation import ACCOUNT_FIELDS, accounts_validate

UPSERT_BATCH_SIZE = 1000


class AccountsInvalid(ValueError):
    """Rows that ``accounts_save`` refused: ``errors`` maps a row's index to its field
    errors. Nothing was written."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        first = next(iter(errors.items()), None)
        detail = f" (row {first[0]}: {first[1]})" if first else ""
        super().__init__(f"{len(errors)} account row(s) are invalid{detail}.")


@dataclass
class UpsertResult:
    """The external ids written by ``accounts_bulk_upsert``, split by what happened;
    ``missing`` are those not written because ``create`` was off and no such account
    existed."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def accounts_bulk_upsert(
    *,
    rows: Iterable[Mapping[str, Any]],
    batch_size: int = UPSERT_BATCH_SIZE,
    merge_attributes: bool = False,
    create: bool = True,
    arr_source: str = ArrChange.Source.OTHER,
    arr_effective: dt.date | None = None,
) -> UpsertResult:
    """Upsert cleaned rows by external id, ``batch_size`` rows per transaction.

    Each row creates its account or updates the fields it gives (others keep their
    value). A repeated external id is applied over the earlier row: it wins for the
    fields it gives. With ``merge_attributes``, a row's attributes are merged into
    the stored ones instead of replacing them. With ``create`` off, a row whose account
    does not exist is not written (``missing``); those that exist are locked for the
    batch, so one deleted meanwhile is not brought back.

    Per batch: one query finds which external ids exist (and their attributes when
    merging), then one ``INSERT … ON CONFLICT (external_id) DO UPDATE`` per distinct
    set of fields given — so a batch costs a handful of queries whatever its size.

    Every ARR that changes (or a new account's ARR) is kept as an ``ArrChange`` row in
    the batch's transaction, one insert for the batch: from ``arr_source``, effective on
    ``arr_effective`` (default today).
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
            with_arr = any("arr" in values for values in by_id.values())
            existing = _existing(
                external_ids=list(by_id),
                with_attributes=merge_attributes,
                lock=not create or with_arr,
            )
            parents = _parent_ids(by_id)
            later: dict[str, str] = {}  # child → a parent this batch creates
            groups: dict[tuple[str, ...], list[Account]] = {}
            for external_id, values in by_id.items():
                if not create and external_id not in existing:
                    continue
                if merge_attributes and "attributes" in values and external_id in existing:
                    values = {
                        **values,
                        "attributes": {
                            **existing[external_id]["attributes"],
                            **values["attributes"],
                        },
                    }
                given = tuple(sorted(set(values) - {"external_id"}))
                if "parent" in values:
                    parent = values["parent"]
                    values = {key: value for key, value in values.items() if key != "parent"}
                    values["parent_id"] = parents.get(parent) if parent else None
                    if parent and values["parent_id"] is None:
                        later[external_id] = parent
                groups.setdefault(given, []).append(Account(**values))
            for given, accounts in groups.items():
                Account.objects.bulk_create(
                    accounts,
                    update_conflicts=True,
                    unique_fields=["external_id"],
                    update_fields=[*given, "updated_at"],
                )
            if later:
                _parents_link(later)
            if with_arr:
                _arr_history(
                    by_id=by_id,
                    existing=existing,
                    create=create,
                    source=arr_source,
                    effective=arr_effective,
                )
        for external_id in by_id:
            if external_id in written:
                continue
            written.add(external_id)
            if external_id in existing:
                result.updated.append(external_id)
            elif create:
                result.created.append(external_id)
            else:
                result.missing.append(external_id)
    return result


def _parent_ids(by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The ids of the stored accounts that the rows name as parents (one query)."""
    named = {values["parent"] for values in by_id.values() if values.get("parent")}
    if not named:
        return {}
    found = Account.objects.filter(external_id__in=named).order_by()
    return dict(found.values_list("external_id", "pk"))


def _parents_link(later: Mapping[str, str]) -> None:
    """Point each child at its parent created in the same batch: one read of their ids,
    one ``UPDATE``. A parent the batch did not write was not validated with its child
    (``accounts_validate`` checks rows together): refused loudly, the batch undone."""
    ids = dict(
        Account.objects.filter(external_id__in={*later, *later.values()})
        .order_by()
        .values_list("external_id", "pk")
    )
    unknown = sorted({parent for parent in later.values() if parent not in ids})
    if unknown:
        raise AccountsInvalid(
            {0: {"parent": [f"No account has the external id '{parent}'." for parent in unknown]}}
        )
    children = [
        Account(pk=ids[child], parent_id=ids[parent])
        for child, parent in later.items()
        if child in ids
    ]
    Account.objects.bulk_update(children, ["parent"])


def _apply(
    earlier: Mapping[str, Any], later: Mapping[str, Any], merge_attributes: bool
) -> dict[str, Any]:
    """``later`` written over ``earlier``: given fields replace, attributes may merge."""
    values = {**earlier, **later}
    if merge_attributes and "attributes" in earlier and "attributes" in later:
        values["attributes"] = {**earlier["attributes"], **later["attributes"]}
    return values


def _existing(
    *, external_ids: list[str], with_attributes: bool, lock: bool = False
) -> dict[str, dict[str, Any]]:
    """The external ids among ``external_ids`` that exist, each with its id, ARR and (if
    asked) attributes. Locked when ``lock``: an ARR read here is the one replaced."""
    existing = Account.objects.filter(external_id__in=external_ids).order_by()
    if lock:
        existing = existing.select_for_update()
    fields = ["external_id", "pk", "arr", *(["attributes"] if with_attributes else [])]
    return {row["external_id"]: row for row in existing.values(*fields)}


def _arr_history(
    *,
    by_id: Mapping[str, Mapping[str, Any]],
    existing: Mapping[str, Mapping[str, Any]],
    create: bool,
    source: str,
    effective: dt.date | None,
) -> None:
    """One ``ArrChange`` per account of the batch whose ARR the batch changed."""
    now = timezone.now()
    day = effective or timezone.localdate(now)
    changed: dict[str, tuple[Decimal, Decimal]] = {}
    for external_id, values in by_id.items():
        if "arr" not in values or (not create and external_id not in existing):
            continue
        before = Decimal(existing[external_id]["arr"]) if external_id in existing else Decimal(0)
        after = Decimal(values["arr"])
        if after != before:
            changed[external_id] = (before, after)
    if not changed:
        return
    ids = {ext: row["pk"] for ext, row in existing.items() if ext in changed}
    new = [ext for ext in changed if ext not in ids]
    if new:
        ids.update(
            Account.objects.filter(external_id__in=new).order_by().values_list("external_id", "pk")
        )
    ArrChange.objects.bulk_create(
        ArrChange(
            account_id=ids[ext],
            effective_date=day,
            arr_before=before,
            arr_after=after,
            source=source,
            recorded_at=now,
        )
        for ext, (before, after) in changed.items()
    )


def account_upsert(
    *, external_id: str, arr_source: str = ArrChange.Source.OTHER, **fields: Any
) -> tuple[Account, bool]:
    """Create the account ``external_id`` or update the fields given; returns (account, created).

    ``fields`` are cleaned values (see ``accounts_validate``); fields not given keep
    their stored value, or the model default for a new account.
    """
    unknown = set(fields) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"account_upsert() got unknown fields: {', '.join(sorted(unknown))}")
    result = accounts_bulk_upsert(
        rows=[{**fields, "external_id": external_id}], arr_source=arr_source
    )
    account = Account.objects.select_related("owner").get(external_id=external_id)
    return account, bool(result.created)


def accounts_save(
    *, rows: Sequence[Mapping[str, Any]], arr_source: str = ArrChange.Source.OTHER
) -> UpsertResult:
    """Validate rows of raw account data and upsert them, all or nothing: if any row is
    invalid, ``AccountsInvalid`` names each bad row and nothing is written. For data
    that should be right (the demo book, a sample data set), so a rule broken there is
    loud rather than half-written."""
    validations = accounts_validate(rows=rows)
    errors = {index: v.errors for index, v in enumerate(validations) if not v.ok}
    if errors:
        raise AccountsInvalid(errors)
    return accounts_bulk_upsert(rows=[v.cleaned for v in validations], arr_source=arr_source)


def accounts_delete(*, accounts: QuerySet[Account]) -> int:
    """Delete ``accounts`` and everything recorded about them; returns how many accounts."""
    _, deleted = accounts.delete()
    return deleted.get(Account._meta.label, 0)
