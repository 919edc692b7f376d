"""The account list as CSV, written row by row as it is read.

On PostgreSQL the database writes the CSV itself: the list's query, with each cell
formatted in SQL, runs as ``COPY (...) TO STDOUT WITH (FORMAT csv)`` and the rows go to
the client as they arrive, so neither the rows nor model instances are built in Python.
Elsewhere (SQLite) the same cells are formatted in Python from chunks of value rows.
Both write the same bytes for the same data (tests/accounts/test_export.py).

The file, cell by cell: text as stored, empty for missing; ARR with its two decimals;
dates as YYYY-MM-DD; the health score and the 30-day change rounded to two decimals
(half away from zero, on the value's first 15 significant digits, as PostgreSQL's
float-to-numeric cast does), empty when not scored. A text cell that a spreadsheet
would run as a formula (it starts with = + - @, a tab or a carriage return) gets a
leading apostrophe; the score columns are numbers and keep their sign. Rows end with
CRLF, as Python's csv module writes them.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connections
from django.db.models import F, QuerySet
from django.db.models.expressions import Func
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.models import Account

# (label, the value row's field, how the cell is made)
TEXT, NUMBER, DATE, PLAIN, SCORE = "text", "number", "date", "plain", "score"
COLUMNS: list[tuple[str, str, str]] = [
    ("External id", "external_id", TEXT),
    ("Name", "name", TEXT),
    ("Domain", "domain", TEXT),
    ("Owner", "owner__username", TEXT),  # the username: it is what an import would match on
    ("Parent", "parent__external_id", TEXT),  # the parent's external id, as an import takes it
    ("Segment", "segment", TEXT),
    ("Plan", "plan", TEXT),
    ("Lifecycle stage", "lifecycle_stage", TEXT),
    ("ARR", "arr", NUMBER),
    ("Contract start", "contract_start", DATE),
    ("Renewal date", "renewal_date", DATE),
    ("Churned at", "churned_at", DATE),
    ("Health score", "health__score", SCORE),
    ("Band", "health__band__name", PLAIN),
    ("Risk level", "health__level", PLAIN),
    ("30-day change", "health__trend_30d", SCORE),
]
HEADER = [label for label, _, _ in COLUMNS]

# A cell that starts with one of these is run as a formula by spreadsheet programs;
# account names and domains come from the CRM, so they are not trusted.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

CHUNK_ROWS = 2000
# The PostgreSQL path hands the server this much CSV at a time.
CHUNK_BYTES = 64 * 1024


def export_rows(accounts: QuerySet[Account]) -> Iterator[bytes]:
    """The CSV file of ``accounts`` (already scoped, filtered and ordered), in chunks."""
    if connections[accounts.db].vendor == "postgresql":
        return _copy_rows(accounts)
    return _python_rows(accounts)


def export_response(accounts: QuerySet[Account]) -> StreamingHttpResponse:
    """The CSV file of ``accounts`` as a download, streamed: the first bytes go out at
    once and a large book never sits in the worker's memory."""
    return csv_download(export_rows(accounts), name="accounts")


def csv_download(chunks: Iterator[bytes], *, name: str) -> StreamingHttpResponse:
    """``chunks`` of CSV streamed as the download ``<name>-<today>.csv``."""
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


# --- Python (SQLite) ---------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


_HUNDREDTH = Decimal("0.01")


def score_cell(value: float | None) -> str:
    if value is None:
        return ""
    rounded = Decimal(f"{value:.15g}").quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)
    return str(abs(rounded) if rounded == 0 else rounded)  # no "-0.00"


def _cell(value: Any, kind: str) -> str:
    if kind == SCORE:
        return score_cell(value)
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind in (TEXT, NUMBER) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _python_rows(accounts: QuerySet[Account]) -> Iterator[bytes]:
    return values_csv(accounts, COLUMNS)


def values_csv(queryset: QuerySet, columns: list[tuple[str, str, str]]) -> Iterator[bytes]:
    """The CSV file of ``queryset``'s ``columns`` (label, value field, kind), formatted
    cell by cell as above, in chunks read from the database as they are written."""
    writer = csv.writer(_Echo())
    yield writer.writerow([label for label, _, _ in columns]).encode()
    rows = queryset.values_list(*[field for _, field, _ in columns])
    kinds = [kind for _, _, kind in columns]
    chunk: list[str] = []
    for row in rows.iterator(chunk_size=CHUNK_ROWS):
        chunk.append(
            writer.writerow([_cell(value, kind) for value, kind in zip(row, kinds, strict=True)])
        )
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


# --- PostgreSQL: COPY ----------------------------------------------------------------------


class _Guarded(Func):
    """A text cell: empty for NULL or '', an apostrophe before a formula prefix.

    (COPY writes NULL as an empty field and '' as "", so '' becomes NULL.)"""

    template = (
        "(CASE WHEN left(%(expressions)s, 1) IN ('=', '+', '-', '@', chr(9), chr(13))"
        " THEN '''' || %(expressions)s ELSE NULLIF(%(expressions)s, '') END)"
    )


class _Plain(Func):
    template = "NULLIF(%(expressions)s, '')"


class _Numeric(Func):
    template = "(%(expressions)s)::text"


class _Date(Func):
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"


class _Score(Func):
    # float8 → numeric keeps 15 significant digits; numeric has no negative zero.
    template = "round((%(expressions)s)::numeric, 2)::text"


def _cell_sql(field: str, kind: str) -> Func:
    ref = F(field)
    if kind == TEXT:
        return _Guarded(ref)
    if kind == NUMBER:
        return _Guarded(_Numeric(ref))
    if kind == DATE:
        return _Date(ref)
    if kind == SCORE:
        return _Score(ref)
    return _Plain(ref)


def copy_statement(accounts: QuerySet[Account]) -> bytes | None:
    """``COPY (the export's SELECT) TO STDOUT`` with its parameters bound as literals
    (COPY takes no bind parameters); None when the query cannot match a row."""
    import psycopg

    if accounts.query.is_empty():
        return None
    cells = {f"c{i}": _cell_sql(field, kind) for i, (_, field, kind) in enumerate(COLUMNS)}
    select = accounts.annotate(**cells).values_list(*cells)
    connection = connections[accounts.db]
    sql, params = select.query.get_compiler(using=accounts.db).as_sql()
    connection.ensure_connection()
    bound = psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    return f"COPY ({bound}) TO STDOUT WITH (FORMAT csv)".encode()


def _copy_rows(accounts: QuerySet[Account]) -> Iterator[bytes]:
    yield csv.writer(_Echo()).writerow(HEADER).encode()
    statement = copy_statement(accounts)
    if statement is None:
        return
    connection = connections[accounts.db]
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        chunk: list[bytes] = []
        size = 0
        # PostgreSQL sends one message per row, ending in "\n" (a newline inside a
        # quoted cell is never a message's last byte): the row ends in CRLF instead.
        for row in copy:
            data = bytes(row)
            chunk.append(data[:-1])
            chunk.append(b"\r\n")
            size += len(data) + 1
            if size >= CHUNK_BYTES:
                yield b"".join(chunk)
                chunk = []
                size = 0
        if chunk:
            yield b"".join(chunk)
