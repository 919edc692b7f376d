"""Indexes behind search everywhere for tasks (title) and notes (text), on PostgreSQL:
trigram indexes serve ``icontains`` (``UPPER(col) LIKE UPPER('%text%')``), as the
account search's do (accounts/migrations/0003). SQLite scans."""

from django.db import migrations

from config.pg_indexes import postgres_indexes


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0008_overdue_schedule")]

    operations = [
        postgres_indexes(
            {
                "playbooks_task_title_trgm": ("playbooks_task", 'USING gin (UPPER("title") gin_trgm_ops)'),
                "playbooks_note_body_trgm": ("playbooks_note", 'USING gin (UPPER("body") gin_trgm_ops)'),
            }
        )
    ]
