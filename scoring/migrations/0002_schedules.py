"""The nightly recompute and the stale-run watchdog as database schedules
(django-celery-beat), editable in admin. Nightly at 02:00 in the site's time zone."""

from django.conf import settings
from django.db import migrations


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name="Nightly health score recompute",
        defaults={
            "task": "scoring.tasks.recompute_all",
            "crontab": nightly,
            "description": "Recomputes every account's metrics and score, fanned out in chunks.",
        },
    )
    every_five, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Resume stale recompute runs",
        defaults={
            "task": "scoring.tasks.resume_stale_runs",
            "interval": every_five,
            "description": "Dispatches again chunks that no worker finished.",
        },
    )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(
        task__in=["scoring.tasks.recompute_all", "scoring.tasks.resume_stale_runs"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
