"""Score history partitioned by month on PostgreSQL (scoring/partitions.py says why and
how); SQLite keeps its one plain table and only sees the two foreign keys lose their
database constraint and the one-score-per-run rule gain computed_at.

On PostgreSQL, in the migration's one transaction: the table is renamed, a partitioned
table made like it (columns, defaults, identity), a partition made for every month from
the oldest row's to VITALS_HISTORY_PARTITIONS_AHEAD months ahead plus the default one,
the rows copied, the old table dropped, and the primary key ((id, computed_at)), the
other constraints and the indexes made again under their own names (the account-time
index, which gains the id, is built once after the copy). The id sequence goes on from
the highest id. It takes an exclusive lock on the history for as long as the copy
runs (396,000 rows took 17.6 s on a shared 2-core machine: docs/benchmarks.md): run it
outside the nightly recompute, with free disk for a second copy of the table. It is reversible the same way (rows copied back into one plain table).
"""

import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "scoring_healthscore"
SWAP = "scoring_healthscore_swap"


def _month(moment):
    utc = moment.astimezone(dt.UTC)
    return dt.datetime(utc.year, utc.month, 1, tzinfo=dt.UTC)


def _next(start):
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _swap(cursor, *, partitioned: bool) -> None:
    cursor.execute(
        "SELECT conrelid::regclass::text FROM pg_constraint WHERE confrelid = %s::regclass",
        [TABLE],
    )
    incoming = [name for (name,) in cursor.fetchall() if name != TABLE]
    if incoming:
        raise RuntimeError(
            f"{', '.join(incoming)} still has a foreign key to {TABLE}: a partitioned "
            "table cannot be referenced by id alone (see scoring/partitions.py)."
        )
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype <> 'p' ORDER BY conname",
        [TABLE],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = %s AND indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass) ORDER BY 1",
        [TABLE, TABLE],
    )
    indexes = cursor.fetchall()
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    (sequence,) = cursor.fetchone()

    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {SWAP}")
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {SWAP}_id_seq")
    clause = " PARTITION BY RANGE (computed_at)" if partitioned else ""
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {SWAP} INCLUDING DEFAULTS INCLUDING IDENTITY"
        f" INCLUDING STORAGE){clause}"
    )
    if partitioned:
        cursor.execute(f"SELECT min(computed_at), now() FROM {SWAP}")
        oldest, now = cursor.fetchone()
        start, last = _month(oldest or now), _month(now)
        for _ in range(settings.VITALS_HISTORY_PARTITIONS_AHEAD):
            last = _next(last)
        while start <= last:
            end = _next(start)
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{start:%Y%m} PARTITION OF {TABLE}"
                f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            start = end
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {SWAP}")
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(max(id), 1),"
        f" max(id) IS NOT NULL) FROM {TABLE}",
        [TABLE],
    )
    cursor.execute(f"DROP TABLE {SWAP}")
    key = "(id, computed_at)" if partitioned else "(id)"
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY {key}")
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute(f"ANALYZE {TABLE}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            _swap(cursor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            _swap(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_name_order_index"),
        ("scoring", "0007_chunk_claims"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="healthscore",
            name="healthscore_once_per_run",
        ),
        migrations.AlterField(
            model_name="accounthealth",
            name="health_score",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="scoring.healthscore",
            ),
        ),
        migrations.AlterField(
            model_name="scoreevent",
            name="health_score",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="scoring.healthscore",
            ),
        ),
        migrations.AddConstraint(
            model_name="healthscore",
            constraint=models.UniqueConstraint(
                fields=("run", "account", "computed_at"), name="healthscore_once_per_run"
            ),
        ),
        # The account-time index gains the id (scoring.models.results says why): dropped
        # before the copy and built once on the partitioned table after it.
        migrations.RemoveIndex(model_name="healthscore", name="healthscore_account_time"),
        migrations.RunPython(partition, unpartition),
        migrations.AddIndex(
            model_name="healthscore",
            index=models.Index(
                fields=["account", "computed_at", "id"], name="healthscore_account_time"
            ),
        ),
    ]
