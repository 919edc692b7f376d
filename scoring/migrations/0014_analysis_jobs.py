"""Backtests and what-ifs as jobs on the workers (scoring.analysis.jobs), and their
watchdog as a database schedule every 10 seconds."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


WATCHDOG = "scoring.tasks.resume_stale_jobs"


def create_watchdog(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_10s, _ = IntervalSchedule.objects.get_or_create(every=10, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Resume stalled backtests and what-ifs",
        defaults={
            "task": WATCHDOG,
            "interval": every_10s,
            "description": "Sends again the analysis jobs whose worker stopped reporting "
            "(killed, or its message lost), and fails those tried too often.",
        },
    )


def remove_watchdog(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=WATCHDOG).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0013_scoreevent_kind_time"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AnalysisJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("backtest", "Backtest"), ("whatif", "What-if")], max_length=10
                    ),
                ),
                (
                    "params",
                    models.JSONField(
                        default=dict, help_text="As-of dates, horizon, segment, suggest."
                    ),
                ),
                (
                    "params_key",
                    models.CharField(help_text="A digest of the parameters.", max_length=64),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("running", "Running"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                (
                    "stage",
                    models.CharField(blank=True, help_text="The step under way.", max_length=200),
                ),
                (
                    "done",
                    models.PositiveIntegerField(
                        default=0, help_text="Accounts of the step scored."
                    ),
                ),
                (
                    "total",
                    models.PositiveIntegerField(default=0, help_text="Accounts of the step."),
                ),
                ("result", models.JSONField(blank=True, null=True)),
                ("error", models.TextField(blank=True)),
                (
                    "trigger",
                    models.CharField(default="admin", help_text="admin, command…", max_length=20),
                ),
                (
                    "token",
                    models.CharField(blank=True, help_text="The holder's claim.", max_length=32),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("dispatched_at", models.DateTimeField(blank=True, null=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="analysis_jobs",
                        to="scoring.scoringmodel",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [
                    models.Index(fields=["model", "kind", "-id"], name="analysisjob_model_kind"),
                    models.Index(fields=["status", "heartbeat_at"], name="analysisjob_status"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", ["pending", "running"])),
                        fields=("kind", "model", "params_key"),
                        name="analysisjob_open_once",
                    )
                ],
            },
        ),
        migrations.RunPython(create_watchdog, remove_watchdog),
    ]
