"""The daily history job (scoring.tasks.maintain_history: partitions made ahead, then the
retention policy applied) as a database schedule (django-celery-beat), editable in
admin. Daily at 03:30 in the site's time zone, after the nightly recompute."""

from django.conf import settings
from django.db import migrations

TASK = "scoring.tasks.maintain_history"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name="Score history partitions and retention",
        defaults={
            "task": TASK,
            "crontab": daily,
            "description": "Makes the score history's monthly partitions ahead (PostgreSQL) "
            "and applies the retention policy to score history and raw signals.",
        },
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0009_history_retention"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
