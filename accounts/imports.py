"""Importing accounts from a CSV file, and reading CSV files for any importer.

``csv_file_open`` checks a whole file before anything is written — readable, UTF-8,
not binary, a header row — so a file-level problem is one clear error and never a
half-done import. ``accounts_import_csv`` then streams the rows in batches through
the same validation and upsert as the API (``accounts.services``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from accounts.services import (
    ACCOUNT_FIELDS,
    FIELDS_WITHOUT_BLANK,
    REQUIRED_FIELDS,
    UPSERT_BATCH_SIZE,
    accounts_bulk_upsert,
    accounts_validate,
)

_DELIMITERS = (",", ";", "\t")


class CsvFileError(Exception):
    """The file as a whole cannot be imported; the message says why, in one line."""


@dataclass(frozen=True)
class CsvFile:
    """A CSV file that has been read through once and found importable.

    ``header`` is the first non-blank record; ``records`` counts the non-blank
    records after it (for a progress bar).
    """

    path: Path
    delimiter: str
    header: list[str]
    header_line: int
    records: int

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Stream (line number, cells) for each non-blank record after the header.

        The line number is where the record starts in the file (the header is on line
        ``header_line``, usually 1), which is what a person sees in an editor even
        when a quoted cell spans several lines.
        """
        with _open_binary(self.path) as handle:
            for line, cells in _records(handle, path=self.path, delimiter=self.delimiter):
                if line > self.header_line:
                    yield line, cells


def csv_file_open(*, path: str | Path) -> CsvFile:
    """Read the whole file once and return it as a ``CsvFile``, or raise ``CsvFileError``.

    Checks, in order: the path is a readable file; it is not empty; no line holds a
    NUL byte (a binary file); every line is UTF-8 (a byte-order mark is allowed); the
    CSV structure parses. The delimiter is the one of ``,`` ``;`` and tab that is
    most frequent in the header line.
    """
    path = Path(path)
    with _open_binary(path) as handle:
        head = handle.read(8192)
        if not head:
            raise CsvFileError(f"{path} is empty: expected a header row.")
        if b"\x00" in head:
            raise CsvFileError(
                f"{path} looks like a binary file (it holds NUL bytes), not a CSV file."
            )
        delimiter = _sniff_delimiter(head.split(b"\n", 1)[0])
        handle.seek(0)
        header: list[str] | None = None
        header_line = 0
        records = 0
        for line, cells in _records(handle, path=path, delimiter=delimiter):
            if header is None:
                header, header_line = cells, line
            else:
                records += 1
    if header is None:
        raise CsvFileError(f"{path} is empty: expected a header row.")
    return CsvFile(
        path=path, delimiter=delimiter, header=header, header_line=header_line, records=records
    )


def _open_binary(path: Path) -> BinaryIO:
    if path.is_dir():
        raise CsvFileError(f"{path} is a directory, not a CSV file.")
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise CsvFileError(f"{path}: no such file.") from None
    except PermissionError:
        raise CsvFileError(f"{path}: permission denied.") from None
    except OSError as error:
        raise CsvFileError(f"{path} cannot be read: {error.strerror or error}.") from None


def _sniff_delimiter(first_line: bytes) -> str:
    counts = {delimiter: first_line.count(delimiter.encode()) for delimiter in _DELIMITERS}
    return max(_DELIMITERS, key=lambda delimiter: counts[delimiter])


def _lines(handle: BinaryIO, *, path: Path) -> Iterator[str]:
    """Decode the file line by line so that a bad byte is reported with its line."""
    for number, raw in enumerate(handle, start=1):
        if b"\x00" in raw:
            raise CsvFileError(
                f"{path} looks like a binary file (NUL byte on line {number}), not a CSV file."
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CsvFileError(
                f"{path}, line {number}: not UTF-8 text (byte 0x{raw[error.start]:02x}); "
                "save the file as CSV UTF-8."
            ) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _records(handle: BinaryIO, *, path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_lines(handle, path=path), delimiter=delimiter, strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvFileError(
                f"{path}, line {reader.line_num}: not valid CSV ({error})."
            ) from None
        end = reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells


# --- Accounts ----------------------------------------------------------------------


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
        name = _column_key(title)
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


def _column_key(title: str) -> str:
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
            index + 1 for index, title in enumerate(csv_file.header) if not _column_key(title)
        ],
    )
    merge_attributes = all(name != "attributes" for _, name in columns.fields)
    written_on: dict[str, int] = {}  # external id -> line of the row written last
    created: set[str] = set()
    updated: set[str] = set()
    batch: list[tuple[int, list[str]]] = []

    def flush() -> None:
        rows = _import_batch(batch, columns=columns, report=report, written_on=written_on)
        result = accounts_bulk_upsert(rows=rows, merge_attributes=merge_attributes)
        created.update(result.created)
        # A later duplicate updates an account this import created: still one creation.
        updated.update(external_id for external_id in result.updated if external_id not in created)
        report.created, report.updated = len(created), len(updated)
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


def _import_batch(
    batch: list[tuple[int, list[str]]],
    *,
    columns: _Columns,
    report: AccountImport,
    written_on: dict[str, int],
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
    for (line, _, extras), validation in zip(candidates, validations, strict=True):
        if not validation.ok:
            rejected.append(Rejection(line, validation.errors))
            continue
        cleaned = validation.cleaned
        if extras:
            cleaned["attributes"] = {**cleaned.get("attributes", {}), **extras}
        external_id = cleaned["external_id"]
        if external_id in written_on:
            report.duplicates.append(Duplicate(line, external_id, written_on[external_id]))
        written_on[external_id] = line
        rows.append(cleaned)
    report.rejected.extend(sorted(rejected, key=lambda rejection: rejection.line))
    return rows
