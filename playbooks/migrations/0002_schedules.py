"""The playbooks' periodic tasks as database schedules (django-celery-beat), editable in
admin: score events every minute (the recompute also asks for it as soon as a run
finishes), due steps and lost messages every minute, state triggers hourly."""

from django.db import migrations

SCHEDULES = [
    # name, task, every, period, description
    (
        "Process score events into playbook runs",
        "playbooks.tasks.process_score_events",
        1,
        "minutes",
        "Turns band changes and score drops into playbook runs, exactly once each.",
    ),
    (
        "Dispatch due playbook steps",
        "playbooks.tasks.dispatch_due_steps",
        1,
        "minutes",
        "Sends steps whose wait is over, and re-sends steps and deliveries whose "
        "messages were lost.",
    ),
    (
        "Evaluate playbook state triggers",
        "playbooks.tasks.evaluate_state_triggers",
        1,
        "hours",
        "Score below, renewal within, metric thresholds, new accounts, gradual score drops.",
    ),
]


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period, description in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "interval": interval, "description": description},
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("playbooks", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
