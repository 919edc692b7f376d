"""CSM tasks (made by a playbook step or by hand) and notes on accounts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from accounts.models import Account


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# Highest first in queues.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

ACTIVE_STATUSES = ("open", "snoozed")


def queue_day() -> Case:
    """The day a task is due in the queue: a snoozed task's wake-up day, else its due date.
    The queue's order and the index ``task_queue_day`` are built on this same expression."""
    return Case(When(status="snoozed", then=F("snoozed_until")), default=F("due_date"))


def priority_rank() -> Case:
    """A task's priority as a number, urgent (0) first."""
    return Case(
        *(When(priority=p.value, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
        default=Value(9),
        output_field=IntegerField(),
    )


class Task(models.Model):
    """A CSM task on an account: made by a playbook step (``origin_step_run``) or by hand."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        SNOOZED = "snoozed", "Snoozed"
        CANCELLED = "cancelled", "Cancelled"
        RESOLVED = "resolved", "Resolved"

    ACTIVE = (Status.OPEN, Status.SNOOZED)
    CLOSED = (Status.DONE, Status.CANCELLED, Status.RESOLVED)

    Priority = Priority

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    due_date = models.DateField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        help_text="Empty when nobody could be assigned (an account without an owner).",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateField(null=True, blank=True)
    origin_step_run = models.ForeignKey(
        "playbooks.PlaybookStepRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        help_text="The playbook step that made it; empty for a manual task.",
    )
    # The step it came from, kept beside the step run so that the database holds "one
    # open task per account and step" (task_one_open_per_step).
    playbook_step = models.ForeignKey(
        "playbooks.PlaybookStep",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who created a manual task.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was resolved or cancelled."
    )
    close_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why it closed without being done, e.g. “Resolved: back to Healthy on 12 Nov”.",
    )

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["assignee", "status", "due_date"], name="task_queue"),
            # A section of a person's queue read in its order (day, priority, id) from
            # where it starts, a window at a time, for each status: open and snoozed
            # tasks only.
            models.Index(
                F("assignee"),
                F("status"),
                queue_day(),
                priority_rank(),
                F("id"),
                name="task_queue_day",
                condition=Q(status__in=ACTIVE_STATUSES),
            ),
            # The unassigned open work on a person's accounts, found from their accounts.
            models.Index(
                fields=["account"],
                name="task_unassigned_active",
                condition=Q(assignee__isnull=True, status__in=ACTIVE_STATUSES),
            ),
            models.Index(fields=["account", "created_at"], name="task_account_time"),
            # A person's done tasks, newest first (the queue's done view).
            models.Index(
                F("assignee"),
                F("completed_at").desc(),
                F("id").desc(),
                name="task_done_recent",
                condition=Q(status="done"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["origin_step_run"],
                condition=Q(origin_step_run__isnull=False),
                name="task_once_per_step_run",
            ),
            # A step triggered again while its task is still open adds to that task.
            models.UniqueConstraint(
                fields=["account", "playbook_step"],
                condition=Q(playbook_step__isnull=False, status__in=["open", "snoozed"]),
                name="task_one_open_per_step",
            ),
            models.CheckConstraint(
                condition=~Q(status="snoozed") | Q(snoozed_until__isnull=False),
                name="task_snoozed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_manual(self) -> bool:
        return self.origin_step_run_id is None

    def is_awake(self, today) -> bool:
        """Open, or snoozed until a day that has come: due work either way."""
        return self.status == self.Status.OPEN or (
            self.status == self.Status.SNOOZED and self.snoozed_until <= today
        )

    def current_status(self, today) -> str:
        """The status as it stands today: a snooze whose day has come is open again."""
        if self.status == self.Status.SNOOZED and self.snoozed_until <= today:
            return self.Status.OPEN
        return self.status

    def current_due_date(self, today):
        """The day the task is due: a woken snooze is due on its wake-up day."""
        if self.status == self.Status.SNOOZED and self.snoozed_until <= today:
            return self.snoozed_until
        return self.due_date


class Note(models.Model):
    """A note on an account, optionally about one of its tasks."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "created_at"], name="note_account_time")]

    def __str__(self) -> str:
        return self.body[:60]
