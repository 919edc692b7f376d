"""Taking signals in: validation of raw rows (from the API or a CSV file) and storage.

``signals_ingest`` is the one path: every good row is stored, every bad row is reported
by its index with the reason per field, a row whose client id was seen before is a
duplicate. Used by ``import_signals`` and by ``POST /api/v1/signals/``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Account
from scoring.models import Metric
from scoring.services import IngestResult, SignalRow, signals_store

# Accepted names for each field (the API uses the first; CSV headers may use any).
FIELD_ALIASES = {
    "account": ("account", "account_external_id", "external_id"),
    "metric": ("metric", "metric_key"),
    "value": ("value",),
    "timestamp": ("timestamp", "time", "at", "date"),
    "source": ("source",),
    "id": ("id", "client_id"),
}
MAX_FUTURE = dt.timedelta(days=1)


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def parse_timestamp(value) -> tuple[dt.datetime | None, str | None]:
    """An aware datetime from ISO 8601 text (or a date, taken as midnight UTC); naive
    times are taken as UTC. Returns (value, error)."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = _text(value)
        if not text:
            return None, "This field is required."
        try:
            parsed = parse_datetime(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            parsed = None
        if parsed is None:
            try:
                day = parse_date(text)
            except ValueError:
                day = None
            if day is None:
                return None, f"{text!r} is not an ISO 8601 date-time (e.g. 2026-11-01T10:00:00Z)."
            parsed = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed, None


def parse_value(value) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return None, "Must be a number, not true/false."
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(value)
        if not text:
            return None, "This field is required."
        try:
            number = float(text)
        except ValueError:
            return None, f"{text!r} is not a number."
    if not math.isfinite(number):
        return None, "Must be a finite number."
    return number, None


def signals_validate(
    *,
    rows: list[Mapping],
    accounts: QuerySet[Account] | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[tuple[int, SignalRow]], list[tuple[int, dict[str, list[str]]]]]:
    """Validate raw rows (dicts keyed by field name). Accounts are looked up by external
    id within ``accounts`` (a caller's scope; all accounts by default) and metrics by
    key, each with one query for the whole batch."""
    now = now or timezone.now()
    accounts = Account.objects.all() if accounts is None else accounts
    wanted_accounts = {_text(_get(row, "account")) for row in rows if isinstance(row, Mapping)}
    wanted_metrics = {_text(_get(row, "metric")) for row in rows if isinstance(row, Mapping)}
    account_ids = dict(
        accounts.filter(external_id__in=wanted_accounts - {""}).values_list("external_id", "id")
    )
    metric_ids = dict(Metric.objects.filter(key__in=wanted_metrics - {""}).values_list("key", "id"))

    good: list[tuple[int, SignalRow]] = []
    bad: list[tuple[int, dict[str, list[str]]]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            bad.append((index, {"non_field_errors": ["Each signal must be an object."]}))
            continue
        errors: dict[str, list[str]] = {}
        external_id = _text(_get(row, "account"))
        if not external_id:
            errors["account"] = ["This field is required."]
        elif external_id not in account_ids:
            errors["account"] = [f"Unknown account {external_id!r}."]
        key = _text(_get(row, "metric"))
        if not key:
            errors["metric"] = ["This field is required."]
        elif key not in metric_ids:
            errors["metric"] = [f"Unknown metric {key!r}."]
        value, error = parse_value(_get(row, "value"))
        if error:
            errors["value"] = [error]
        timestamp, error = parse_timestamp(_get(row, "timestamp"))
        if error:
            errors["timestamp"] = [error]
        elif timestamp > now + MAX_FUTURE:
            errors["timestamp"] = [f"{timestamp.isoformat()} is in the future."]
        source = _text(_get(row, "source"))
        if len(source) > 50:
            errors["source"] = ["At most 50 characters."]
        client_id = _text(_get(row, "id")) or None
        if client_id and len(client_id) > 100:
            errors["id"] = ["At most 100 characters."]
        if errors:
            bad.append((index, errors))
            continue
        good.append(
            (
                index,
                SignalRow(
                    account_id=account_ids[external_id],
                    metric_id=metric_ids[key],
                    value=value,
                    timestamp=timestamp,
                    source=source,
                    client_id=client_id,
                ),
            )
        )
    return good, bad


def _get(row: Mapping, name: str):
    for alias in FIELD_ALIASES[name]:
        if alias in row:
            return row[alias]
    return None


def signals_ingest(
    *,
    rows: Iterable[Mapping],
    accounts: QuerySet[Account] | None = None,
    now: dt.datetime | None = None,
    index_offset: int = 0,
) -> IngestReport:
    """Validate and store a batch of raw rows; all good rows are stored in one
    transaction (or none, if the database refuses the batch)."""
    rows = list(rows)
    good, bad = signals_validate(rows=rows, accounts=accounts, now=now)
    result: IngestResult = signals_store(rows=[row for _, row in good])
    return IngestReport(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[(index + index_offset, errors) for index, errors in bad],
    )
