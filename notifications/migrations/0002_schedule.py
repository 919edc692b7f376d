"""Notifications of accounts gone to a worse risk level: after each recompute (the
recompute's follow-up tasks) and hourly as a database schedule, editable in admin, so
that a lost message is made good within the hour."""

from django.db import migrations

from config.schedules import every


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        every(
            task="notifications.tasks.notify_score_events",
            name="Notify of accounts gone worse",
            interval=1,
            period="hours",
            description="Tells owners (and managers who watch their team) of accounts that "
            "entered a worse risk level; each event once.",
        )
    ]
