"""Indexes behind search everywhere for tasks (title) and notes (text), on PostgreSQL:
trigram indexes serve ``icontains`` (``UPPER(col) LIKE UPPER('%text%')``), as the
account search's do (accounts/migrations/0003). SQLite scans."""

from django.db import migrations

INDEXES = {
    "playbooks_task_title_trgm": ("playbooks_task", 'USING gin (UPPER("title") gin_trgm_ops)'),
    "playbooks_note_body_trgm": ("playbooks_note", 'USING gin (UPPER("body") gin_trgm_ops)'),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, definition) in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0008_overdue_schedule")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
