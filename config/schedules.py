"""Periodic jobs as database schedules (django-celery-beat), made by migrations so that
an admin can see and change them in Django admin. A migration names its job by string."""

from __future__ import annotations

from django.db import migrations


def every(*, task: str, name: str, interval: int, period: str, description: str):
    """The migration operation that schedules ``task`` every ``interval`` ``period``
    (e.g. 15, "minutes"), under ``name``, and removes it when unapplied."""

    def create(apps, schema_editor) -> None:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        schedule, _ = IntervalSchedule.objects.get_or_create(every=interval, period=period)
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": schedule, "description": description}
        )

    def remove(apps, schema_editor) -> None:
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=task).delete()

    return migrations.RunPython(create, remove)
