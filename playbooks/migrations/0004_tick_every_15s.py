"""The playbook tick (due steps, deliveries due again, lost messages) every 15 seconds
instead of every minute, so that work lost with a worker or a broker is found within a
minute (VITALS_PLAYBOOK_REDISPATCH_AFTER is 30 s)."""

from django.db import migrations

TICK = "playbooks.tasks.dispatch_due_steps"


def tick_every(apps, every: int, period: str) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    PeriodicTask.objects.filter(task=TICK).update(interval=interval)


def every_15_seconds(apps, schema_editor):
    tick_every(apps, 15, "seconds")


def every_minute(apps, schema_editor):
    tick_every(apps, 1, "minutes")


class Migration(migrations.Migration):
    dependencies = [
        ("playbooks", "0003_trust"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(every_15_seconds, every_minute)]
