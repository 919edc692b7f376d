"""Indexes that only PostgreSQL has (trigram indexes for ``icontains`` search, expression
indexes), made by migrations: on SQLite, the embedded default for small books, they are
skipped and the tables scanned. A migration names its tables and columns by string."""

from __future__ import annotations

from django.db import migrations


def postgres_indexes(indexes: dict[str, tuple[str, str]]):
    """The migration operation that makes ``{name: (table, definition)}`` on PostgreSQL
    (``CREATE INDEX IF NOT EXISTS name ON table definition``, with the pg_trgm extension
    its trigram indexes need) and drops them when unapplied."""

    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        # A trusted extension since PostgreSQL 13: the database's owner may create it.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, (table, definition) in indexes.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return migrations.RunPython(create, drop, elidable=False)
