"""The daily digests, looked for every quarter hour as a database schedule editable in
admin: each person's goes out at the first run after their chosen hour in their own
time zone, once a day."""

from django.db import migrations

from config.schedules import every


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0001_priority_weights"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        every(
            task="workspace.tasks.send_digests",
            name="Daily digests",
            interval=15,
            period="minutes",
            description="Sends each person who asked for it their daily digest, in their "
            "morning; once per person and day.",
        )
    ]
