"""Chunks are claimed by workers (``claimed_at``), and the watchdog that sends a stalled
run's chunks again looks every 10 seconds instead of every 5 minutes (scoring.runs)."""

from django.db import migrations, models

WATCHDOG = "scoring.tasks.resume_stale_runs"


def watchdog_every(apps, every: int, period: str, description: str) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    PeriodicTask.objects.filter(task=WATCHDOG).update(interval=interval, description=description)


def every_10_seconds(apps, schema_editor):
    watchdog_every(
        apps,
        10,
        "seconds",
        "Sends again the chunks of a run that stopped moving (messages lost with a "
        "worker or a restarted broker).",
    )


def every_5_minutes(apps, schema_editor):
    watchdog_every(apps, 5, "minutes", "Dispatches again chunks that no worker finished.")


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0006_risk_levels_flap_control"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="scoringrunchunk",
            name="claimed_at",
            field=models.DateTimeField(
                blank=True, help_text="When a worker last began scoring it.", null=True
            ),
        ),
        migrations.RunPython(every_10_seconds, every_5_minutes),
    ]
