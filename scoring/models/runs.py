"""Recomputes: a run of the scoring over all accounts, a segment or one account, split
into chunks of contiguous account ids that are each scored once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account


class ScoringRun(models.Model):
    """One recompute: all accounts, a segment or one account, as of a moment."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Scope(models.TextChoices):
        ALL = "all", "All accounts"
        SEGMENT = "segment", "One segment"
        ACCOUNT = "account", "One account"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.ALL)
    segment = models.CharField(max_length=20, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    as_of = models.DateTimeField(help_text="Signals before this moment are scored.")
    trigger = models.CharField(max_length=20, default="manual", help_text="nightly, manual, api…")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_ids = models.JSONField(
        default=list, help_text="The active model versions when the run was planned."
    )
    chunk_size = models.PositiveIntegerField(default=5000)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    accounts_total = models.PositiveIntegerField(default=0)
    accounts_scored = models.PositiveIntegerField(default=0)
    band_changes = models.PositiveIntegerField(default=0)
    score_drops = models.PositiveIntegerField(default=0)
    errors = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.get_scope_display()}, {self.get_status_display()})"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def progress_pct(self) -> int:
        if not self.chunks_total:
            return 100 if self.status == self.Status.SUCCEEDED else 0
        return round(100 * self.chunks_done / self.chunks_total)


class ScoringRunChunk(models.Model):
    """A contiguous range of account ids within a run, scored in one transaction.

    ``done`` flips in the same transaction that writes the chunk's scores, so a chunk
    is either wholly scored once or not at all, however often its task is delivered.

    A worker claims a chunk (``claimed_at``) and then scores it holding its row lock,
    which lives exactly as long as the worker's database session: a chunk that is not
    done, not locked and not claimed in the last few seconds is free, and the next
    message of its run takes it (see ``scoring.services.scoring_chunk_claim``).
    ``dispatched_at`` is when a message was last sent for the run while it was free.
    """

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_account_id = models.BigIntegerField()
    last_account_id = models.BigIntegerField()
    done = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    scored = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last began scoring it."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="chunk_index_once"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"
