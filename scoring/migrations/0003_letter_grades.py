"""The default letter-grade view of 0–100 scores: A 90+, B 80+, C 70+, D 60+, F below."""

from django.db import migrations

GRADES = [
    ("A", 90, "#15803d"),
    ("B", 80, "#65a30d"),
    ("C", 70, "#ca8a04"),
    ("D", 60, "#ea580c"),
    ("F", 0, "#dc2626"),
]


def create(apps, schema_editor):
    GradeScale = apps.get_model("scoring", "GradeScale")
    if not GradeScale.objects.exists():
        GradeScale.objects.bulk_create(
            GradeScale(letter=letter, lower=lower, color=color) for letter, lower, color in GRADES
        )


def remove(apps, schema_editor):
    GradeScale = apps.get_model("scoring", "GradeScale")
    GradeScale.objects.filter(letter__in=[g[0] for g in GRADES]).delete()


class Migration(migrations.Migration):
    dependencies = [("scoring", "0002_schedules")]

    operations = [migrations.RunPython(create, remove)]
