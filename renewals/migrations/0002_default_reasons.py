"""The reasons a renewal starts with; an admin renames, reorders, retires or adds them."""

from django.db import migrations

REASONS = [
    ("price", "Price", "loss"),
    ("budget_cut", "Budget cut", "loss"),
    ("product_gaps", "Product gaps", "loss"),
    ("poor_adoption", "Poor adoption", "loss"),
    ("champion_left", "Champion left", "loss"),
    ("support_experience", "Support experience", "loss"),
    ("competitor", "Moved to a competitor", "loss"),
    ("acquired", "Acquired or merged", "any"),
    ("business_closed", "Business closed", "loss"),
    ("more_seats", "Expansion: more seats", "growth"),
    ("new_team", "Expansion: new team", "growth"),
    ("upgrade", "Expansion: higher plan", "growth"),
    ("value_proven", "Value proven", "growth"),
]


def create(apps, schema_editor):
    RenewalReason = apps.get_model("renewals", "RenewalReason")
    for order, (code, name, applies_to) in enumerate(REASONS, start=1):
        RenewalReason.objects.get_or_create(
            code=code, defaults={"name": name, "applies_to": applies_to, "order": order * 10}
        )


def remove(apps, schema_editor):
    apps.get_model("renewals", "RenewalReason").objects.filter(
        code__in=[r[0] for r in REASONS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("renewals", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
