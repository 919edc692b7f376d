"""Importing accounts from a CSV file.

``accounts_import_csv`` streams the rows of a checked ``CsvFile`` in batches through
the same validation and upsert as every other door (``accounts.services``): each row
is validated on its own, each bad row is reported with its line and kept out, and the
good rows of a batch are written set-based.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import reset_queries

from accounts.imports.csvfile import CsvFile, CsvFileError
from accounts.services import (
    ACCOUNT_FIELDS,
    FIELDS_WITHOUT_BLANK,
    REQUIRED_FIELDS,
    UPSERT_BATCH_SIZE,
    accounts_bulk_upsert,
    accounts_validate,
)


@dataclass(frozen=True)
class Rejection:
    line: int
    errors: dict[str, list[str]]

    def __str__(self) -> str:
        reasons = "; ".join(
            f"{name}: {message.rstrip('.')}"
            for name, messages in self.errors.items()
            for message in messages
        )
        return f"line {self.line}: {reasons}."


@dataclass(frozen=True)
class Duplicate:
    line: int
    external_id: str
    first_line: int

    def __str__(self) -> str:
        return (
            f"line {self.line}: external_id '{self.external_id}' is also on line "
            f"{self.first_line}; the later row was applied over it."
        )


@dataclass
class AccountImport:
    """What an import did: counts of accounts and every row that was not taken as is."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    ignored_columns: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Columns:
    """How the header's columns map onto account fields."""

    fields: list[tuple[int, str]]  # (index, account field)
    extras: list[tuple[int, str]]  # (index, attributes key)
    width: int


def account_import_columns(*, csv_file: CsvFile) -> _Columns:
    """Map the header onto account fields, or raise ``CsvFileError``.

    Column names are matched without regard to case, surrounding spaces, or spaces and
    hyphens in place of underscores, so the account list's own CSV export ("External
    id", "Lifecycle stage", …) imports as it is. A column that is not an account field
    goes into ``attributes`` under its matched name; a column with no name is ignored.
    """
    fields: list[tuple[int, str]] = []
    extras: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, title in enumerate(csv_file.header):
        name = column_key(title)
        if not name:
            continue
        if name in seen:
            raise CsvFileError(
                f"{csv_file.path}: columns {seen[name] + 1} and {index + 1} of the header "
                f"are both '{name}'."
            )
        seen[name] = index
        (fields if name in ACCOUNT_FIELDS else extras).append((index, name))
    missing = [name for name in REQUIRED_FIELDS if name not in seen]
    if missing:
        found = ", ".join(repr(title) for title in csv_file.header[:8])
        if len(csv_file.header) > 8:
            found += ", …"
        raise CsvFileError(
            f"{csv_file.path}: the header (line {csv_file.header_line}) has no "
            f"{' and no '.join(missing)} column; found {found}. The first row must name "
            f"the columns, such as {','.join(ACCOUNT_FIELDS[:4])},…"
        )
    return _Columns(fields=fields, extras=extras, width=len(csv_file.header))


def column_key(title: str) -> str:
    return "_".join(title.strip().lower().replace("-", " ").split())


def accounts_import_csv(
    *,
    csv_file: CsvFile,
    batch_size: int = UPSERT_BATCH_SIZE,
    on_progress: Callable[[int], Any] | None = None,
) -> AccountImport:
    """Import accounts from ``csv_file``, committing each batch of good rows.

    For each batch of ``batch_size`` rows: cut the cells into account fields and extra
    columns; validate the batch (``accounts_validate``, one query for the owners);
    note each rejected row with its line and reasons; note duplicate external ids (the
    later row wins); upsert the good rows (``accounts_bulk_upsert``). Empty cells in
    segment, lifecycle_stage and arr leave the stored value alone; empty cells
    elsewhere clear the field. Extra columns go into ``attributes``: merged into the
    stored attributes, or added to the ``attributes`` column's object when the file
    has one (which then replaces the stored attributes). ``on_progress`` is called
    with the number of rows done after each batch.
    """
    columns = account_import_columns(csv_file=csv_file)
    report = AccountImport(
        extra_columns=[name for _, name in columns.extras],
        ignored_columns=[
            index + 1 for index, title in enumerate(csv_file.header) if not column_key(title)
        ],
    )
    merge_attributes = all(name != "attributes" for _, name in columns.fields)
    batch: list[tuple[int, list[str]]] = []

    with _WrittenIds() as written:

        def flush() -> None:
            rows = _import_batch(batch, columns=columns, report=report, written=written)
            result = accounts_bulk_upsert(
                rows=rows, merge_attributes=merge_attributes, arr_source="import"
            )
            # A later duplicate updates an account this import created (or updated): it
            # was counted when its first row was written.
            report.created += len(result.created) - written.seen(result.created)
            report.updated += len(result.updated) - written.seen(result.updated)
            written.commit()
            # With DEBUG on, Django would keep every query of the import in memory.
            reset_queries()
            if on_progress is not None:
                on_progress(len(batch))
            batch.clear()

        for line, cells in csv_file.rows():
            report.rows += 1
            batch.append((line, cells))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    return report


class _WrittenIds:
    """The external ids an import has written so far, and the line that wrote each last.

    Kept in a scratch SQLite file rather than in a dict, so that an import's memory does
    not grow with the file: a dict of 200,000 ids cost tens of megabytes. Each batch
    asks about its own ids only, in one query.
    """

    def __enter__(self) -> _WrittenIds:
        self._dir = tempfile.TemporaryDirectory(prefix="vitals-import-")
        self._db = sqlite3.connect(Path(self._dir.name) / "written.sqlite3")
        self._db.execute("CREATE TABLE written (external_id TEXT PRIMARY KEY, line INTEGER)")
        self._pending: dict[str, int] = {}
        return self

    def __exit__(self, *exc) -> None:
        self._db.close()
        self._dir.cleanup()

    def lines(self, external_ids: list[str]) -> dict[str, int]:
        """The line that last wrote each of ``external_ids``, for those written before."""
        found: dict[str, int] = {}
        for start in range(0, len(external_ids), 500):  # SQLite's parameter limit
            part = external_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(
                self._db.execute(
                    f"SELECT external_id, line FROM written WHERE external_id IN ({marks})", part
                )
            )
        return found

    def note(self, external_id: str, line: int) -> None:
        """Remember a row of the batch being prepared (committed by ``add``)."""
        self._pending[external_id] = line

    def seen(self, external_ids: list[str]) -> int:
        """How many of ``external_ids`` earlier batches wrote."""
        return len(self.lines(external_ids))

    def commit(self) -> None:
        """The batch's rows are written: remember them for the batches that follow."""
        self._db.executemany(
            "INSERT OR REPLACE INTO written (external_id, line) VALUES (?, ?)",
            self._pending.items(),
        )
        self._db.commit()
        self._pending.clear()


def _import_batch(
    batch: list[tuple[int, list[str]]],
    *,
    columns: _Columns,
    report: AccountImport,
    written: _WrittenIds,
) -> list[dict[str, Any]]:
    """Validate one batch of records; return the good rows as cleaned values."""
    candidates: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    rejected: list[Rejection] = []
    for line, cells in batch:
        # Spreadsheets often end rows with empty cells; anything else out of line is an error.
        if len(cells) < columns.width or any(cell.strip() for cell in cells[columns.width :]):
            rejected.append(
                Rejection(
                    line,
                    {"row": [f"Has {len(cells)} cells but the header has {columns.width}."]},
                )
            )
            continue
        data: dict[str, Any] = {}
        for index, name in columns.fields:
            value = cells[index].strip()
            if value or name not in FIELDS_WITHOUT_BLANK:
                data[name] = value
        extras = {
            name: cells[index].strip() for index, name in columns.extras if cells[index].strip()
        }
        candidates.append((line, data, extras))

    rows: list[dict[str, Any]] = []
    validations = accounts_validate(rows=[data for _, data, _ in candidates])
    earlier = written.lines(
        [v.cleaned["external_id"] for v in validations if v.ok and "external_id" in v.cleaned]
    )
    written_on: dict[str, int] = {}  # in this batch: external id -> line written last
    for (line, _, extras), validation in zip(candidates, validations, strict=True):
        if not validation.ok:
            rejected.append(Rejection(line, validation.errors))
            continue
        cleaned = validation.cleaned
        if extras:
            cleaned["attributes"] = {**cleaned.get("attributes", {}), **extras}
        external_id = cleaned["external_id"]
        first_line = written_on.get(external_id, earlier.get(external_id))
        if first_line is not None:
            report.duplicates.append(Duplicate(line, external_id, first_line))
        written_on[external_id] = line
        written.note(external_id, line)
        rows.append(cleaned)
    report.rejected.extend(sorted(rejected, key=lambda rejection: rejection.line))
    return rows
