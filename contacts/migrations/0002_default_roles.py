"""The roles a contact starts with; an admin renames, reorders, adds or removes them."""

from django.db import migrations

ROLES = [
    ("champion", "Champion", "Speaks for the product inside the customer."),
    ("decision_maker", "Decision maker", "Signs the renewal."),
    ("executive_sponsor", "Executive sponsor", "The senior person who backs the work."),
    ("user", "User", "Uses the product day to day."),
    ("admin", "Admin", "Looks after the product's set-up at the customer."),
    ("billing", "Billing", "Receives invoices."),
]


def create(apps, schema_editor):
    ContactRole = apps.get_model("contacts", "ContactRole")
    for position, (key, name, description) in enumerate(ROLES, start=1):
        ContactRole.objects.get_or_create(
            key=key, defaults={"name": name, "position": position * 10, "description": description}
        )


def remove(apps, schema_editor):
    apps.get_model("contacts", "ContactRole").objects.filter(key__in=[r[0] for r in ROLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
