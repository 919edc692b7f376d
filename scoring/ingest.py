"""Taking signals in: validation of raw rows (from the API or a CSV file) and storage.

``signals_ingest`` is the one path: every good row is stored, every bad row is reported
by its index with the reason per field, a row whose client id was seen before is a
duplicate. Used by ``POST /api/v1/signals/`` and, batch by batch, by
``signals_import_csv`` (the ``import_signals`` command).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.imports import CsvFile
from accounts.models import Account
from scoring.errors import ScoringError
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


def parse_text(value, *, max_length: int) -> tuple[str, str | None]:
    """An optional text field (an id, a key, a source): a string, or a whole number
    (JSON senders often send numeric ids). Returns (text, error); "" when absent."""
    if type(value) is str:  # the usual case first: this runs for every field of every row
        text = value.strip()
    elif value is None:
        return "", None
    elif isinstance(value, bool) or not isinstance(value, str | int):
        return "", "Must be a string."
    else:
        text = str(value).strip()
    if "\x00" in text:
        # PostgreSQL cannot store (nor look up) NUL characters in text.
        return "", "May not contain NUL (\\x00) characters."
    if len(text) > max_length:
        return "", f"At most {max_length} characters."
    return text, None


def parse_timestamp(value) -> tuple[dt.datetime | None, str | None]:
    """An aware UTC datetime from ISO 8601 text (or a date, taken as midnight UTC); naive
    times are taken as UTC. Returns (value, error)."""
    parsed: dt.datetime | None
    if isinstance(value, dt.datetime):
        parsed = value
    elif value is not None and not isinstance(value, str):
        return None, "Must be an ISO 8601 date-time string (e.g. 2026-11-01T10:00:00Z)."
    else:
        text = _text(value)
        if not text:
            return None, "This field is required."
        parsed = _parse_iso(text)
        if parsed is None:
            return None, f"{text!r} is not an ISO 8601 date-time (e.g. 2026-11-01T10:00:00Z)."
    if parsed.tzinfo is dt.UTC:
        return parsed, None
    if timezone.is_naive(parsed):
        return parsed.replace(tzinfo=dt.UTC), None
    try:
        # In UTC, so that comparisons and storage never meet an offset again.
        return parsed.astimezone(dt.UTC), None
    except OverflowError:
        return None, f"{parsed.isoformat()} is out of range once converted to UTC."


def _parse_iso(text: str) -> dt.datetime | None:
    try:
        # The usual case, and the fastest: Python reads "Z", offsets, and a date alone
        # (as midnight).
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    try:  # the looser forms Django reads
        parsed = parse_datetime(text)
        day = parse_date(text) if parsed is None else None
    except ValueError:  # well formed but impossible, e.g. 2026-02-30
        return None
    if parsed is None and day is not None:
        parsed = dt.datetime.combine(day, dt.time())
    return parsed


def parse_value(value) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return None, "Must be a number, not true/false."
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            return None, "Is too large for a number."
    elif value is None or isinstance(value, str):
        text = _text(value)
        if not text:
            return None, "This field is required."
        try:
            number = float(text)
        except ValueError:
            return None, f"{text!r} is not a number."
    else:
        return None, "Must be a number."
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
    key, each with one query for the whole batch: so an account out of the caller's
    scope reads exactly like one that does not exist.

    Steps: check each row's fields on their own; look up the accounts and metrics
    the rows name; then resolve them, row by row."""
    now = now or timezone.now()
    latest = now + MAX_FUTURE
    accounts = Account.objects.all() if accounts is None else accounts

    # Each row's fields checked on their own: (index, account, metric, value, timestamp,
    # source, client id, errors); the account and metric are "" when missing or bad.
    parsed: list[tuple] = []
    bad: list[tuple[int, dict[str, list[str]]]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            bad.append((index, {"non_field_errors": ["Each signal must be an object."]}))
            continue
        errors: dict[str, list[str]] = {}
        external_id, error = parse_text(_get(row, "account"), max_length=100)
        if error or not external_id:
            errors["account"] = [error or "This field is required."]
        key, error = parse_text(_get(row, "metric"), max_length=64)
        if error or not key:
            errors["metric"] = [error or "This field is required."]
        value, error = parse_value(_get(row, "value"))
        if error:
            errors["value"] = [error]
        timestamp, error = parse_timestamp(_get(row, "timestamp"))
        if error:
            errors["timestamp"] = [error]
        elif timestamp is not None and timestamp > latest:  # None only with an error
            errors["timestamp"] = [f"{timestamp.isoformat()} is in the future."]
        source, error = parse_text(_get(row, "source"), max_length=50)
        if error:
            errors["source"] = [error]
        client_id, error = parse_text(_get(row, "id"), max_length=100)
        if error:
            errors["id"] = [error]
        parsed.append((index, external_id, key, value, timestamp, source, client_id, errors))

    wanted_accounts = {row[1] for row in parsed if row[1]}
    wanted_metrics = {row[2] for row in parsed if row[2]}
    account_ids = (
        dict(accounts.filter(external_id__in=wanted_accounts).values_list("external_id", "id"))
        if wanted_accounts
        else {}
    )
    metric_ids = (
        dict(Metric.objects.filter(key__in=wanted_metrics).values_list("key", "id"))
        if wanted_metrics
        else {}
    )

    good: list[tuple[int, SignalRow]] = []
    for index, external_id, key, value, timestamp, source, client_id, errors in parsed:
        account_id = account_ids.get(external_id)
        metric_id = metric_ids.get(key)
        if account_id is None and "account" not in errors:
            errors["account"] = [f"Unknown account {external_id!r}."]
        if metric_id is None and "metric" not in errors:
            errors["metric"] = [f"Unknown metric {key!r}."]
        # (An unknown account or metric is always an error by now; the type checker
        # needs telling.)
        if errors or account_id is None or metric_id is None:
            bad.append((index, dict(sorted(errors.items(), key=_field_order))))
            continue
        good.append(
            (
                index,
                SignalRow(
                    account_id=account_id,
                    metric_id=metric_id,
                    value=value,
                    timestamp=timestamp,
                    source=source,
                    client_id=client_id or None,
                ),
            )
        )
    bad.sort(key=lambda item: item[0])
    return good, bad


_FIELD_ORDER = {name: position for position, name in enumerate(FIELD_ALIASES)}


def _field_order(item: tuple[str, list[str]]) -> int:
    return _FIELD_ORDER.get(item[0], -1)


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
    transaction (or none, if the database refuses the batch).

    An account (or metric) deleted between validation and storage makes the database
    refuse the batch when it checks the foreign keys at commit; the batch is then
    validated again, once, so that the rows naming it are rejected and the rest stored.
    """
    rows = list(rows)
    for attempt in range(2):
        good, bad = signals_validate(rows=rows, accounts=accounts, now=now)
        try:
            result: IngestResult = signals_store(rows=[row for _, row in good])
        except IntegrityError:
            if attempt:
                raise
            continue
        return IngestReport(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=[(index + index_offset, errors) for index, errors in bad],
        )
    raise AssertionError("unreachable")


@dataclass
class SignalsImport:
    """What a CSV import of signals did; rejected rows by line number (the header is 1)."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def _column_name(title: str) -> str:
    return title.strip().lower().replace(" ", "_").replace("-", "_")


def signals_import_csv(
    *, csv_file: CsvFile, batch_size: int = 5000, on_rows: Callable[[int], object] | None = None
) -> SignalsImport:
    """Append the signals of an opened CSV file, ``batch_size`` rows at a time through
    ``signals_ingest``: good rows are stored even when others are rejected.

    The header names the columns (any of ``FIELD_ALIASES``, in any case, spaces or
    hyphens for underscores); one without an account, metric, value or timestamp column
    is refused before anything is stored. ``on_rows`` hears how many rows each step
    handled (a progress bar). A file that turns out unreadable half-way raises the
    ``CsvFileError`` of ``accounts.imports``, with the batches before it stored."""
    header = [_column_name(title) for title in csv_file.header]
    for required in ("account", "metric", "value", "timestamp"):
        if not set(FIELD_ALIASES[required]) & set(header):
            raise ScoringError(
                f"{csv_file.path}: the header has no {required!r} column "
                f"(columns: {', '.join(csv_file.header)})."
            )
    known = {alias for aliases in FIELD_ALIASES.values() for alias in aliases}
    result = SignalsImport(ignored_columns=[name for name in header if name and name not in known])
    batch: list[dict] = []
    lines: list[int] = []

    def flush() -> None:
        report = signals_ingest(rows=batch)
        result.accepted += report.accepted
        result.duplicates += report.duplicates
        result.rejected.extend((lines[index], errors) for index, errors in report.rejected)
        if on_rows:
            on_rows(len(batch))
        batch.clear()
        lines.clear()

    for line, cells in csv_file.rows():
        result.rows += 1
        if len(cells) != len(header):
            result.rejected.append(
                (line, {"row": [f"has {len(cells)} cells; the header has {len(header)}."]})
            )
            if on_rows:
                on_rows(1)
            continue
        batch.append(dict(zip(header, cells, strict=True)))
        lines.append(line)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    result.rejected.sort(key=lambda item: item[0])
    return result
