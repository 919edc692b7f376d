"""Indexes behind search everywhere for contacts (name, email), on PostgreSQL: trigram
indexes serve ``icontains``, as the account search's do. SQLite scans."""

from django.db import migrations

from config.pg_indexes import postgres_indexes


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_default_roles")]

    operations = [
        postgres_indexes(
            {
                "contacts_contact_name_trgm": ("contacts_contact", 'USING gin (UPPER("name") gin_trgm_ops)'),
                "contacts_contact_email_trgm": ("contacts_contact", 'USING gin (UPPER("email") gin_trgm_ops)'),
            }
        )
    ]
