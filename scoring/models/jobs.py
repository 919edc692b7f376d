"""Analysis jobs: a backtest or a whole-book what-if of a scoring model version, run on a
worker with its progress and its report kept here (``scoring.analysis.jobs``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scoring.models.configuration import ScoringModel


class AnalysisJob(models.Model):
    """One backtest or what-if: its parameters, how far it got, its report or its error.

    A worker holds a job by its ``token`` and says it is alive with every step
    (``heartbeat_at``); a job whose heartbeat stopped is free again (see
    ``scoring.analysis.jobs``). At most one job of a kind, version and parameters is
    open (pending or running) at a time: starting it again answers the open one.
    """

    class Kind(models.TextChoices):
        BACKTEST = "backtest", "Backtest"
        WHATIF = "whatif", "What-if"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    OPEN = (Status.PENDING, Status.RUNNING)

    kind = models.CharField(max_length=10, choices=Kind.choices)
    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="analysis_jobs")
    params = models.JSONField(default=dict, help_text="As-of dates, horizon, segment, suggest.")
    params_key = models.CharField(max_length=64, help_text="A digest of the parameters.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stage = models.CharField(max_length=200, blank=True, help_text="The step under way.")
    done = models.PositiveIntegerField(default=0, help_text="Accounts of the step scored.")
    total = models.PositiveIntegerField(default=0, help_text="Accounts of the step.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, default="admin", help_text="admin, command…")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.CharField(max_length=32, blank=True, help_text="The holder's claim.")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["model", "kind", "-id"], name="analysisjob_model_kind"),
            models.Index(fields=["status", "heartbeat_at"], name="analysisjob_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "model", "params_key"],
                condition=Q(status__in=["pending", "running"]),
                name="analysisjob_open_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} of {self.model} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def progress_pct(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
