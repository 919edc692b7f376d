"""Indexes behind the account search (name or domain containing the text, or the exact
external id, in any letter case), on PostgreSQL: trigram indexes serve ``icontains``
(``UPPER(col) LIKE UPPER('%text%')``), an expression index the case-blind external id.
SQLite keeps scanning its table; it is the embedded default for small books."""

from django.db import migrations

INDEXES = {
    "accounts_account_name_trgm": 'USING gin (UPPER("name") gin_trgm_ops)',
    "accounts_account_domain_trgm": 'USING gin (UPPER("domain") gin_trgm_ops)',
    "accounts_account_external_id_upper": '(UPPER("external_id"))',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A trusted extension since PostgreSQL 13: the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON accounts_account {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_api_token")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
