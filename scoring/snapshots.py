"""A customer base without timestamps as accounts, metrics, signals and churn labels
(``manage.py import_snapshot``; docs/snapshots.md).

Such a file is one row per customer: an id, a churn label, and columns (numbers, or
categories such as a plan, a contract type or a region). The dating convention is the
Telco sample's (samples/telco.py, docs/telco.md):

- the snapshot date ``S`` is given; every column is read as a signal observed
  ``observed_days_before`` days earlier (at noon UTC), when the customers who churned
  were still customers;
- a churned customer (the label says so) gets ``churned_at = S``, or the label's own
  date when the label is a date;
- so a backtest as of ``S − 1 day`` with a horizon of ``observed_days_before`` days
  sees every signal and every customer, and labels exactly the churned ones.

Each number column becomes a metric with the ``latest`` roll-up; each category column
one 0/1 metric per value (``geography_germany``), so the weighted and points models and
the weight fit can use them today. Columns are told apart by their cells: a column whose
every filled cell is a number is a number column, unless it is named as a category.

The whole file is checked before anything is written: a column named that the header
lacks, a duplicate id, a label that is neither yes nor no nor a date, a category column
with more values than a category has (an identifier, likely) — each said with its line,
and nothing imported. Importing the same file again changes nothing: accounts are
upserted by external id and signals carry client ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from accounts.imports.csvfile import CsvFileError, csv_file_open
from accounts.models import Account
from accounts.services import accounts_save
from scoring.models import Metric
from scoring.services import SignalRow, metric_ensure, signals_store

POSITIVE = {"1", "yes", "y", "true", "churned", "exited", "left"}
NEGATIVE = {"0", "no", "n", "false", "active", "retained", "stayed", ""}
MAX_CATEGORIES = 20
MAX_PROBLEMS = 20


class SnapshotError(Exception):
    """The file cannot be imported as asked; the message says what and where."""


@dataclass(frozen=True)
class SnapshotSpec:
    """How to read the file: which column is the id and which the label, the date it
    describes, and the columns that are not inputs (or that are categories)."""

    id_column: str
    label_column: str
    snapshot: dt.date
    name_column: str = ""
    arr_column: str = ""
    prefix: str = ""
    segment: str = Account.Segment.SMB
    categorical: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    observed_days_before: int = 30

    @property
    def observed_on(self) -> dt.date:
        return self.snapshot - dt.timedelta(days=self.observed_days_before)


@dataclass
class Column:
    """One input column: a number, or a category with its values (as in the file)."""

    title: str
    key: str
    categories: list[str] = field(default_factory=list)

    @property
    def is_category(self) -> bool:
        return bool(self.categories)

    def metric_keys(self) -> list[str]:
        if not self.is_category:
            return [self.key]
        return [category_key(self.key, value) for value in self.categories]


@dataclass
class SnapshotImport:
    customers: int
    churned: int
    columns: list[Column]
    accounts_created: int
    accounts_updated: int
    signals_stored: int
    signals_duplicate: int
    observed_at: dt.datetime
    backtest_date: dt.date
    horizon_days: int


def slug(text: str) -> str:
    """A metric key's part from a column title or a category value."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_") or "blank"


def category_key(column_key: str, value: str) -> str:
    return f"{column_key}_{slug(value)}"[:64]


def _number(cell: str) -> float | None:
    """A cell as a number; None for an empty cell; ValueError when it is not one."""
    text = cell.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return float(value)


def _label(cell: str) -> tuple[bool, dt.date | None]:
    """(churned, the churn date if the label is one); ValueError when it is neither."""
    text = cell.strip().lower()
    if text in POSITIVE:
        return True, None
    if text in NEGATIVE:
        return False, None
    try:
        return True, dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(cell) from None


def snapshot_read(*, path: Path, spec: SnapshotSpec) -> tuple[list[Column], list[dict]]:
    """The file's input columns and its rows (``{"line", "id", "name", "arr", "churned",
    "churned_at", "cells"}``), checked as the module says; SnapshotError otherwise."""
    try:
        csv_file = csv_file_open(path=path)
    except CsvFileError as exc:
        raise SnapshotError(str(exc)) from None
    header = [title.strip() for title in csv_file.header]
    named = {
        "--id": spec.id_column,
        "--label": spec.label_column,
        "--name": spec.name_column,
        "--arr": spec.arr_column,
    }
    missing = [
        f"{option} {title!r}" for option, title in named.items() if title and title not in header
    ]
    missing += [
        f"{option} {title!r}"
        for option, titles in (("--categorical", spec.categorical), ("--ignore", spec.ignore))
        for title in sorted(titles)
        if title not in header
    ]
    if missing:
        raise SnapshotError(
            f"{path}: the header has no column {', '.join(missing)} (it has {', '.join(header)})."
        )
    position = {title: index for index, title in enumerate(header)}
    reserved = {spec.id_column, spec.label_column, spec.name_column, spec.arr_column, ""}
    inputs = [t for t in header if t not in reserved and t not in spec.ignore]
    if not inputs:
        raise SnapshotError(f"{path}: no column is left to import as a metric.")

    problems: list[str] = []
    rows: list[dict] = []
    seen: dict[str, int] = {}
    texts: dict[str, set[str]] = {t: set() for t in inputs}
    not_numbers: dict[str, tuple[int, str]] = {}
    for line, cells in csv_file.rows():
        cells = [*cells, *[""] * (len(header) - len(cells))]
        where = f"line {line}"
        customer = cells[position[spec.id_column]].strip()
        if not customer:
            problems.append(f"{where}: {spec.id_column} is empty.")
            continue
        if customer in seen:
            problems.append(
                f"{where}: {spec.id_column} {customer!r} is on line {seen[customer]} too."
            )
            continue
        seen[customer] = line
        try:
            churned, churned_at = _label(cells[position[spec.label_column]])
        except ValueError as exc:
            problems.append(
                f"{where}: {spec.label_column} {exc.args[0]!r} is neither a churn (1, yes, "
                "true), nor a stay (0, no, false, empty), nor a churn date (YYYY-MM-DD)."
            )
            continue
        arr = 0.0
        if spec.arr_column:
            try:
                arr = _number(cells[position[spec.arr_column]]) or 0.0
            except ValueError as exc:
                problems.append(f"{where}: {spec.arr_column} {exc.args[0]!r} is not a number.")
                continue
        for title in inputs:
            text = cells[position[title]].strip()
            texts[title].add(text)
            if title not in not_numbers:
                try:
                    _number(text)
                except ValueError:
                    not_numbers[title] = (line, text)
        rows.append(
            {
                "line": line,
                "id": customer,
                "name": cells[position[spec.name_column]].strip() if spec.name_column else "",
                "arr": arr,
                "churned": churned,
                "churned_at": churned_at or (spec.snapshot if churned else None),
                "cells": {title: cells[position[title]].strip() for title in inputs},
            }
        )
        if len(problems) >= MAX_PROBLEMS:
            break
    if not rows and not problems:
        raise SnapshotError(f"{path}: the file has a header and no customers.")

    columns = []
    keys: dict[str, str] = {}
    for title in inputs:
        key = f"{spec.prefix}{slug(title)}"[:64]
        if key in keys:
            raise SnapshotError(
                f"{path}: the columns {keys[key]!r} and {title!r} would both be the metric {key!r}."
            )
        keys[key] = title
        if title in spec.categorical or title in not_numbers:
            values = sorted(texts[title] - {""})
            if len(values) > MAX_CATEGORIES:
                line, text = not_numbers.get(title, (0, ""))
                because = f" (line {line} has {text!r}, not a number)" if line else ""
                problems.append(
                    f"column {title}: {len(values):,} different values, more than the "
                    f"{MAX_CATEGORIES} a category column may have{because}; if it is an "
                    f"identifier or free text, leave it out with --ignore {title!r}."
                )
                continue
            columns.append(Column(title, key, values))
        else:
            columns.append(Column(title, key))
    if problems:
        more = " (the first ones; there may be more)" if len(problems) >= MAX_PROBLEMS else ""
        raise SnapshotError(
            f"{path}: nothing imported{more}:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return columns, rows


def _ensure_metrics(columns: list[Column], *, source: str) -> dict[str, int]:
    ids = {}
    for column in columns:
        if column.is_category:
            for value in column.categories:
                key = category_key(column.key, value)
                ids[key] = metric_ensure(
                    key=key,
                    fields={
                        "name": f"{column.title} = {value}"[:120],
                        "unit": "yes=1",
                        "description": f"{source}: 1 when {column.title} is {value!r}, else 0.",
                        "rollup": Metric.Rollup.LATEST,
                    },
                ).pk
        else:
            ids[column.key] = metric_ensure(
                key=column.key,
                fields={
                    "name": column.title[:120],
                    "unit": "",
                    "description": f"{source}: the column {column.title}.",
                    "rollup": Metric.Rollup.LATEST,
                },
            ).pk
    return ids


def _client_id(external_id: str, key: str, day: dt.date) -> str:
    """The signal's idempotency key: readable when it fits the column, else hashed."""
    text = f"{external_id}:{key}:{day:%Y-%m-%d}"
    return text if len(text) <= 100 else "snapshot:" + hashlib.sha256(text.encode()).hexdigest()


def snapshot_import(*, path: Path, spec: SnapshotSpec) -> SnapshotImport:
    """Accounts, metrics, signals and labels from a snapshot file, all or nothing."""
    columns, rows = snapshot_read(path=path, spec=spec)
    source = path.name
    observed_at = dt.datetime.combine(spec.observed_on, dt.time(12), tzinfo=dt.UTC)
    with transaction.atomic():
        metric_ids = _ensure_metrics(columns, source=source)
        upserted = accounts_save(
            rows=[
                {
                    "external_id": f"{spec.prefix}{row['id']}",
                    "name": f"{row['name']} ({row['id']})"
                    if row["name"]
                    else f"Customer {row['id']}",
                    "segment": spec.segment,
                    "lifecycle_stage": Account.Stage.CHURNED
                    if row["churned"]
                    else Account.Stage.MATURE,
                    "arr": Decimal(str(row["arr"])),
                    "churned_at": row["churned_at"],
                    "attributes": {
                        **{c.title: row["cells"][c.title] for c in columns if c.is_category},
                        "source": source,
                    },
                }
                for row in rows
            ]
        )
        account_ids = dict(
            Account.objects.filter(
                external_id__in=[f"{spec.prefix}{row['id']}" for row in rows]
            ).values_list("external_id", "id")
        )
        signals: list[SignalRow] = []
        for row in rows:
            external_id = f"{spec.prefix}{row['id']}"
            for column in columns:
                text = row["cells"][column.title]
                if column.is_category:
                    values = [
                        (category_key(column.key, v), 1.0 if v == text else 0.0)
                        for v in column.categories
                    ]
                    if not text:
                        values = []  # an empty category cell is missing data
                else:
                    number = _number(text)
                    values = [] if number is None else [(column.key, number)]
                signals.extend(
                    SignalRow(
                        account_id=account_ids[external_id],
                        metric_id=metric_ids[key],
                        value=value,
                        timestamp=observed_at,
                        source=source[:50],
                        client_id=_client_id(external_id, key, spec.observed_on),
                    )
                    for key, value in values
                )
        stored = signals_store(rows=signals)
    return SnapshotImport(
        customers=len(rows),
        churned=sum(1 for row in rows if row["churned"]),
        columns=columns,
        accounts_created=len(upserted.created),
        accounts_updated=len(upserted.updated),
        signals_stored=stored.accepted,
        signals_duplicate=stored.duplicates,
        observed_at=observed_at,
        backtest_date=spec.snapshot - dt.timedelta(days=1),
        horizon_days=spec.observed_days_before,
    )
