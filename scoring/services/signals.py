"""Signals stored (already validated: ``scoring/ingest.py`` takes raw rows in), and
the CSM's sentiment, which is kept as a signal too."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, User
from scoring.errors import ScoringError
from scoring.models import CsmSentiment, Metric, Signal
from scoring.services.metrics import metric_save

SENTIMENT_METRIC_KEY = "csm_sentiment"


@dataclass
class SignalRow:
    account_id: int
    metric_id: int
    value: float
    timestamp: dt.datetime
    source: str = ""
    client_id: str | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0


def signals_store(*, rows: list[SignalRow], batch_size: int = 5000) -> IngestResult:
    """Store already validated signals in one transaction (all or nothing).

    Rows whose client id was stored before (by an earlier request, earlier in this
    batch, or by a request racing this one) are counted as duplicates and not stored
    again: the unique index decides, through ``INSERT … ON CONFLICT DO NOTHING
    RETURNING``, so the counts are exact even when two requests race.
    """
    result = IngestResult()
    seen: set[str] = set()
    unique_rows: list[SignalRow] = []
    for row in rows:
        if row.client_id:
            if row.client_id in seen:
                result.duplicates += 1
                continue
            seen.add(row.client_id)
        unique_rows.append(row)
    if not unique_rows:
        return result
    insert = (
        _signals_insert_postgresql if connection.vendor == "postgresql" else _signals_insert_sqlite
    )
    created = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(unique_rows), batch_size):
            batch = unique_rows[start : start + batch_size]
            stored = insert(cursor, batch, created)
            result.accepted += stored
            result.duplicates += len(batch) - stored
    return result


_SIGNAL_COLUMNS = "(account_id, metric_id, value, timestamp, source, client_id, created_at)"


# The batch is copied into a temporary table of the session (kept for the connection's
# life, emptied before each use; its rows only ever live inside the storing transaction).
_SIGNAL_BATCH_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS signal_batch (account_id bigint, metric_id bigint,"
    " value float8, timestamp timestamptz, source text, client_id text)"
)
_SIGNAL_BATCH_TYPES = ["int8", "int8", "float8", "timestamptz", "text", "text"]


def _signals_insert_postgresql(cursor, batch: list[SignalRow], created: dt.datetime) -> int:
    """Binary COPY into the session's batch table, then one INSERT … SELECT that skips
    the client ids already stored and counts what it stored. COPY costs the web process
    a tenth of the CPU that a multi-row INSERT's parameters do (measured in
    docs/benchmarks.md), and the INSERT keeps ON CONFLICT's exact counting."""
    cursor.execute(_SIGNAL_BATCH_TABLE)
    cursor.execute("TRUNCATE signal_batch")
    with cursor.cursor.copy("COPY signal_batch FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_SIGNAL_BATCH_TYPES)
        for r in batch:
            copy.write_row((r.account_id, r.metric_id, r.value, r.timestamp, r.source, r.client_id))
    cursor.execute(
        f"WITH stored AS (INSERT INTO scoring_signal {_SIGNAL_COLUMNS}"
        " SELECT account_id, metric_id, value, timestamp, source, client_id, %s"
        " FROM signal_batch ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT count(*) FROM stored",
        [created],
    )
    return cursor.fetchone()[0]


def _signals_insert_sqlite(cursor, batch: list[SignalRow], created: dt.datetime) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    created_at = adapt(created)
    stored = 0
    # As many rows per statement as this SQLite takes parameters (7 per row; usually
    # 32,766 parameters: 4,680 rows).
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    rows_per_statement = max(1, limit // 7)
    for start in range(0, len(batch), rows_per_statement):
        chunk = batch[start : start + rows_per_statement]
        params: list = []
        for r in chunk:
            params += [
                r.account_id,
                r.metric_id,
                r.value,
                adapt(r.timestamp),
                r.source,
                r.client_id,
                created_at,
            ]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        cursor.execute(
            f"INSERT INTO scoring_signal {_SIGNAL_COLUMNS}"
            f" VALUES {values} ON CONFLICT DO NOTHING RETURNING id",
            params,
        )
        stored += len(cursor.fetchall())
    return stored


def sentiment_metric() -> Metric:
    """The metric CSM sentiment is stored as (created on first use, then left as the
    admins define it)."""
    metric = Metric.objects.filter(key=SENTIMENT_METRIC_KEY).first()
    if metric is not None:
        return metric
    return metric_save(
        fields={
            "key": SENTIMENT_METRIC_KEY,
            "name": "CSM sentiment",
            "unit": "1–5",
            "rollup": Metric.Rollup.LATEST,
            "description": "The account owner's pulse, recorded on the account page.",
        }
    )


@transaction.atomic
def sentiment_record(
    *,
    account: Account,
    author: User | None,
    value: int,
    note: str = "",
    at: dt.datetime | None = None,
) -> CsmSentiment:
    if not 1 <= int(value) <= 5:
        raise ScoringError("Sentiment is a whole number from 1 (very unhappy) to 5 (very happy).")
    at = at or timezone.now()
    sentiment = CsmSentiment.objects.create(
        account=account, author=author, value=int(value), note=note.strip(), created_at=at
    )
    Signal.objects.create(
        account=account,
        metric=sentiment_metric(),
        value=float(value),
        timestamp=at,
        source="csm",
        client_id=f"sentiment-{sentiment.pk}",
    )
    return sentiment
