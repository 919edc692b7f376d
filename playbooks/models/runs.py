"""Runs of playbooks: one per (playbook, account, triggering event), and one step run per
(run, step)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, RiskLevel
from playbooks.models.playbooks import Playbook
from playbooks.models.steps import PlaybookStep
from scoring.models import ScoreEvent


class PlaybookRun(models.Model):
    """One firing of a playbook for one account for one triggering event."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        RESOLVED = "resolved", "Resolved: the account recovered"
        HELD_OUT = "held_out", "Held out (no tasks, no messages)"
        SKIPPED = "skipped", "Not acted on: a re-baseline"

    # Runs that made no tasks and sent nothing on purpose.
    QUIET = (Status.HELD_OUT, Status.SKIPPED)

    id = models.BigAutoField(primary_key=True)
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="runs")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="playbook_runs")
    event_key = models.CharField(
        max_length=100,
        help_text="The triggering event, e.g. score_event:123 or renewal:2027-01-01.",
    )
    score_event = models.ForeignKey(
        ScoreEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    context = models.JSONField(
        default=dict, blank=True, help_text="Score, band, previous band and delta when it fired."
    )
    level = models.CharField(
        max_length=10,
        choices=RiskLevel.choices,
        blank=True,
        help_text="The risk level that caused the run (the level entered, or the account's "
        "level when it fired): recovering to a better one closes its work.",
    )
    in_experiment = models.BooleanField(
        default=False,
        help_text="The account could have been held out (the playbook holds some out and it "
        "was within the hold-out's ARR limit): the effectiveness report compares these.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "playbook", "created_at"], name="run_account_cooldown"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "account", "event_key"], name="run_once_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} for {self.account} ({self.event_key})"


class PlaybookStepRun(models.Model):
    """A step of a run: waiting until ``due_at``, then done (or failed) exactly once."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(PlaybookStep, on_delete=models.CASCADE, related_name="step_runs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    due_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    merged_task = models.ForeignKey(
        "Task",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The open task this step added to instead of making a second one.",
    )

    class Meta:
        ordering = ["run", "step__position"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="waiting"), name="steprun_waiting_due"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="steprun_once"),
        ]

    def __str__(self) -> str:
        return f"step {self.step.position} of run {self.run_id}"
