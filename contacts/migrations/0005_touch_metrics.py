"""The built-in metrics touches are signals of (contacts.services.touches.TOUCH_METRICS):
"days since the last touch" and "touches in 30 days", ready for a scoring model."""

from django.db import migrations

METRICS = {
    "days_since_touch": {
        "name": "Days since the last touch",
        "unit": "touches",
        "rollup": "days_since",
        "window_days": 30,
        "description": "Built in: a call, email, meeting or QBR logged on the account.",
    },
    "touches_30d": {
        "name": "Touches in 30 days",
        "unit": "touches",
        "rollup": "count",
        "window_days": 30,
        "description": "Built in: the calls, emails, meetings and QBRs logged on the account.",
    },
}


def create(apps, schema_editor) -> None:
    Metric = apps.get_model("scoring", "Metric")
    for key, fields in METRICS.items():
        Metric.objects.get_or_create(key=key, defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0004_touch"), ("scoring", "0014_analysis_jobs")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
