"""Notifications of tasks fallen overdue, hourly, as a database schedule editable in
admin. Each task and due day is told once."""

from django.db import migrations

from config.schedules import every


class Migration(migrations.Migration):
    dependencies = [
        ("playbooks", "0007_task_done_recent"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        every(
            task="playbooks.tasks.notify_overdue_tasks",
            name="Notify of overdue tasks",
            interval=1,
            period="hours",
            description="Tells each task's person (and managers who watch their team) when "
            "it falls overdue; each task and due day once.",
        )
    ]
