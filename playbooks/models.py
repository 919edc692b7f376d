"""Playbooks (a trigger, conditions and ordered steps), their runs, CSM tasks, notes,
and outbound deliveries (email, Slack, signed webhooks).

Invariants the database holds, whatever a worker does:

- one run per (playbook, account, triggering event): ``PlaybookRun.event_key`` names the
  event ("score_event:123", "renewal:2027-01-01", …) under a unique constraint;
- one step run per (run, step), and one task per step run (``Task.origin_step_run``);
- one delivery per idempotency key ("step_run:<id>", "event:<name>:<id>:<endpoint>").

So a retried task, a redelivered message or a manual re-run adds nothing.
"""

from __future__ import annotations

import base64
import secrets
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import RISK_ORDER, Account, RiskLevel, Team
from playbooks.egress import url_refusal
from scoring.models import Band, Metric, ScoreEvent

# Placeholders that step texts may use; each is rendered as a plain string.
PLACEHOLDERS = ("account", "score", "band", "previous_band", "owner", "delta")


def placeholder_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of ``text`` (``[]`` if nothing).

    Only bare names from ``PLACEHOLDERS`` are allowed: no attribute or index access,
    no conversions or format specs, so a text can never reach into an object.
    """
    errors = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"{exc}; write a literal brace as {{{{ or }}}}."]
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            errors.append(f"Unknown placeholder {{{name}}}; use {allowed}.")
        elif spec or conversion:
            errors.append(f"Write the placeholder {{{name}}} without a format or conversion.")
    return errors


def render_text(text: str, context: dict[str, str]) -> str:
    """``text`` with its placeholders filled from ``context`` (plain strings only)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(text):
        out.append(literal)
        if name is not None:
            out.append(str(context.get(name, "")))
    return "".join(out)


def _band_names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


class Playbook(models.Model):
    """A trigger, optional conditions on the account, and ordered steps.

    The trigger's parameters are plain fields so that admins see and filter them; the
    ones a trigger needs are checked by ``clean``. Empty conditions match any account.
    """

    class Trigger(models.TextChoices):
        LEVEL_ENTERED = "level_entered", "Entered a risk level (or worse)"
        BAND_CHANGED = "band_changed", "Band changed"
        SCORE_DROPPED = "score_dropped", "Score dropped by X points within N days"
        SCORE_BELOW = "score_below", "Score below X"
        RENEWAL_WITHIN = "renewal_within", "Renewal within N days while in a band"
        METRIC_THRESHOLD = "metric_threshold", "Metric crossed a threshold"
        ACCOUNT_CREATED = "account_created", "Account created"

    EVENT_TRIGGERS = (Trigger.LEVEL_ENTERED, Trigger.BAND_CHANGED, Trigger.SCORE_DROPPED)

    class Direction(models.TextChoices):
        ABOVE = "above", "rises above"
        BELOW = "below", "falls below"

    class OnRecovery(models.TextChoices):
        CLOSE = "close", "Close its open tasks"
        KEEP = "keep", "Keep its tasks open"
        NOTIFY = "notify", "Keep them open and tell the assignee"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)

    # Trigger parameters (which ones apply depends on the trigger).
    level = models.CharField(
        max_length=10,
        choices=RiskLevel.choices,
        blank=True,
        help_text="Entered a risk level: the level, whatever model scored the account.",
    )
    or_worse = models.BooleanField(
        default=True,
        help_text="Entered a risk level: also when the account goes straight to a worse one "
        "(e.g. At risk or worse).",
    )
    from_band_name = models.CharField(
        max_length=60, blank=True, help_text="Band changed: from this band; empty = from any."
    )
    to_band_name = models.CharField(
        max_length=60, blank=True, help_text="Band changed: into this band."
    )
    drop_points = models.FloatField(
        null=True, blank=True, help_text="Score dropped: by at least this many points …"
    )
    within_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="… below the highest score of the last N days."
    )
    score_threshold = models.FloatField(
        null=True, blank=True, help_text="Score below: fires while the score is below this."
    )
    renewal_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Renewal within: the renewal date is at most N days away."
    )
    band_names = models.CharField(
        max_length=300,
        blank=True,
        help_text="Renewal within: while in one of these bands (comma-separated); empty = any.",
    )
    band_names_exclude = models.BooleanField(
        default=False,
        help_text="Renewal within: fire while in any band EXCEPT the ones named (e.g. not Healthy).",
    )
    metric = models.ForeignKey(
        Metric,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Metric crossed a threshold: the metric whose newest signal is compared.",
    )
    direction = models.CharField(max_length=5, choices=Direction.choices, blank=True)
    threshold = models.FloatField(null=True, blank=True)

    # Conditions on the account: empty = any.
    segment = models.CharField(max_length=20, choices=Account.Segment.choices, blank=True)
    plan = models.CharField(max_length=100, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=Account.Stage.choices, blank=True)
    arr_min = models.DecimalField(
        "ARR at least", max_digits=14, decimal_places=2, null=True, blank=True
    )
    arr_max = models.DecimalField(
        "ARR at most", max_digits=14, decimal_places=2, null=True, blank=True
    )
    owner_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only accounts owned by a member of this team.",
    )
    level_at_least = models.CharField(
        "risk level at least",
        max_length=10,
        choices=RiskLevel.choices,
        blank=True,
        help_text="Only accounts whose confirmed band is at this risk level or worse.",
    )

    cooldown_days = models.PositiveIntegerField(
        default=30,
        help_text="Fires at most once per account in this many days (0 = once per event).",
    )
    on_rebaseline = models.BooleanField(
        "act on re-baselines",
        default=False,
        help_text="Also fire when a band change or score comes only from a new scoring model "
        "version (a re-baseline). Off: a new version never raises alarms by itself.",
    )
    on_recovery = models.CharField(
        max_length=8,
        choices=OnRecovery.choices,
        default=OnRecovery.CLOSE,
        help_text="When the account recovers out of the level that fired a run (a confirmed "
        "band change), what happens to the run's open tasks.",
    )
    holdout_pct = models.PositiveSmallIntegerField(
        "hold-out %",
        default=0,
        help_text="Share of the accounts (chosen at random, once) whose runs are recorded as "
        "held out: no tasks, no messages. Comparing them with the others shows whether "
        "the playbook works.",
    )
    holdout_arr_max = models.DecimalField(
        "hold out only up to ARR",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Never hold out an account with more ARR than this (your largest accounts "
        "are always acted on; the comparison is made among the others).",
    )
    enabled_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the playbook was last switched on: it acts on events from then on "
        "(earlier ones only by an explicit backfill).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(arr_min__isnull=True)
                | Q(arr_max__isnull=True)
                | Q(arr_min__lte=models.F("arr_max")),
                name="playbook_arr_range",
            ),
            models.CheckConstraint(
                condition=Q(holdout_pct__lte=50), name="playbook_holdout_at_most_half"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def band_name_list(self) -> list[str]:
        return _band_names(self.band_names)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}

        def need(field: str, message: str) -> None:
            if getattr(self, field) in (None, ""):
                errors.setdefault(field, []).append(message)

        t = self.Trigger
        if self.trigger == t.LEVEL_ENTERED:
            need("level", "Choose the risk level the account enters.")
        elif self.trigger == t.BAND_CHANGED:
            need("to_band_name", "Name the band the account changes into.")
            if self.from_band_name and self.from_band_name == self.to_band_name:
                errors.setdefault("from_band_name", []).append(
                    "The band changed from must differ from the band changed into."
                )
        elif self.trigger == t.SCORE_DROPPED:
            need("drop_points", "Give the number of points the score must drop by.")
            need("within_days", "Give the number of days the drop is measured over.")
            if self.drop_points is not None and self.drop_points <= 0:
                errors.setdefault("drop_points", []).append("The drop must be more than 0 points.")
            if self.within_days == 0:
                errors.setdefault("within_days", []).append("Measure the drop over 1 day or more.")
        elif self.trigger == t.SCORE_BELOW:
            need("score_threshold", "Give the score below which the playbook fires.")
        elif self.trigger == t.RENEWAL_WITHIN:
            need("renewal_days", "Give how many days before the renewal date it fires.")
            if self.band_names_exclude and not self.band_name_list:
                errors.setdefault("band_names", []).append(
                    "Name the bands to exclude, or untick “exclude”."
                )
        elif self.trigger == t.METRIC_THRESHOLD:
            need("metric", "Choose the metric.")
            need("direction", "Choose whether the value rises above or falls below.")
            need("threshold", "Give the threshold value.")
        elif self.trigger != t.ACCOUNT_CREATED:
            errors.setdefault("trigger", []).append("Choose a trigger.")

        named = {
            "from_band_name": [self.from_band_name] if self.from_band_name else [],
            "to_band_name": [self.to_band_name] if self.to_band_name else [],
            "band_names": self.band_name_list,
        }
        wanted = {name for names in named.values() for name in names}
        if wanted:
            known = set(Band.objects.filter(name__in=wanted).values_list("name", flat=True))
            for field, names in named.items():
                for name in names:
                    if name not in known:
                        all_names = sorted(set(Band.objects.values_list("name", flat=True)))
                        errors.setdefault(field, []).append(
                            f"No scoring model has a band named {name!r}; bands are: "
                            f"{', '.join(all_names) or 'none yet'}."
                        )
        if self.arr_min is not None and self.arr_max is not None and self.arr_min > self.arr_max:
            errors.setdefault("arr_max", []).append("ARR at most must not be below ARR at least.")
        if self.holdout_pct is not None and self.holdout_pct > 50:
            errors.setdefault("holdout_pct", []).append(
                "Hold out at most half of the runs (50 %): the rest must be acted on."
            )
        if errors:
            raise ValidationError(errors)

    def describe_trigger(self) -> str:
        t = self.Trigger
        if self.trigger == t.LEVEL_ENTERED:
            level = RiskLevel(self.level).label if self.level else "?"
            return f"entered {level}{' or worse' if self.or_worse else ''}"
        if self.trigger == t.BAND_CHANGED:
            return f"band changed from {self.from_band_name or 'any band'} to {self.to_band_name}"
        if self.trigger == t.SCORE_DROPPED:
            return f"score dropped by {self.drop_points:g}+ points within {self.within_days} days"
        if self.trigger == t.SCORE_BELOW:
            return f"score below {self.score_threshold:g}"
        if self.trigger == t.RENEWAL_WITHIN:
            bands = ", ".join(self.band_name_list)
            if not bands:
                where = "in any band"
            elif self.band_names_exclude:
                where = f"not in {bands}"
            else:
                where = f"in {bands}"
            return f"renewal within {self.renewal_days} days while {where}"
        if self.trigger == t.METRIC_THRESHOLD:
            return (
                f"{self.metric.key if self.metric_id else '?'} "
                f"{self.get_direction_display()} {self.threshold:g}"
            )
        return "account created"

    def describe_conditions(self) -> str:
        parts = []
        if self.segment:
            parts.append(f"segment {self.get_segment_display()}")
        if self.plan:
            parts.append(f"plan {self.plan}")
        if self.lifecycle_stage:
            parts.append(f"stage {self.get_lifecycle_stage_display()}")
        if self.arr_min is not None:
            parts.append(f"ARR ≥ {self.arr_min:,.0f}")
        if self.arr_max is not None:
            parts.append(f"ARR ≤ {self.arr_max:,.0f}")
        if self.owner_team_id:
            parts.append(f"owner in team {self.owner_team}")
        if self.level_at_least:
            parts.append(f"level {RiskLevel(self.level_at_least).label} or worse")
        return ", ".join(parts) or "any account"

    def level_entered(self, *, from_level: str, to_level: str) -> bool:
        """Whether a confirmed change from ``from_level`` to ``to_level`` enters this
        playbook's level ("" = no level)."""
        if not self.level or not to_level:
            return False
        target = RISK_ORDER[self.level]
        after = RISK_ORDER[to_level]
        before = RISK_ORDER[from_level] if from_level else None
        if self.or_worse:
            return after >= target and (before is None or before < target)
        return after == target and before != target


def webhook_secret() -> str:
    """A new signing secret in the Standard Webhooks format: ``whsec_`` and the base64 of
    24 random bytes (the bytes are the HMAC key)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(models.Model):
    """An outside URL that receives signed JSON: chosen by a playbook step, or subscribed
    to events (``account.band_changed``, ``task.created``, …).

    Deliveries are signed per Standard Webhooks with ``secret`` and, during a rotation
    (until ``previous_secret_until``), with ``previous_secret`` too. An endpoint that
    keeps failing is paused (``paused_at``): its deliveries wait, none is lost, until an
    admin resumes it.
    """

    class Event(models.TextChoices):
        BAND_CHANGED = "account.band_changed", "Account band changed"
        SCORE_DROPPED = "account.score_dropped", "Account score dropped"
        REBASELINED = "account.rebaselined", "Account re-baselined by a new model version"
        TASK_CREATED = "task.created", "Task created"
        TASK_COMPLETED = "task.completed", "Task completed"

    name = models.CharField(max_length=120, unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=120,
        default=webhook_secret,
        help_text="Signs every delivery (Standard Webhooks: webhook-signature).",
    )
    previous_secret = models.CharField(
        max_length=120, blank=True, help_text="The secret before the last rotation."
    )
    previous_secret_until = models.DateTimeField(
        null=True, blank=True, help_text="Deliveries are signed with both secrets until then."
    )
    failures = models.PositiveIntegerField(
        default=0, help_text="Failed attempts in a row (a success resets it)."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first of those failed attempts."
    )
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Paused after failing again and again: nothing is sent."
    )
    paused_reason = models.TextField(blank=True)
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='Events sent to this endpoint, e.g. ["task.created", "task.completed"].',
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def clean(self) -> None:
        refusal = url_refusal(self.url) if self.url else None
        if refusal:
            raise ValidationError({"url": refusal})
        if not isinstance(self.events, list) or not all(isinstance(e, str) for e in self.events):
            raise ValidationError({"events": 'Give a list of event names, e.g. ["task.created"].'})
        unknown = [e for e in self.events if e not in self.Event.values]
        if unknown:
            raise ValidationError(
                {
                    "events": f"Unknown event {unknown[0]!r}; choose from "
                    f"{', '.join(self.Event.values)}."
                }
            )


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# Highest first in queues.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

ACCOUNT_SET_FIELDS = ("lifecycle_stage", "plan", "segment")


class PlaybookStep(models.Model):
    """One step of a playbook; the fields used depend on ``kind`` (checked by ``clean``).

    Texts may use the placeholders {account}, {score}, {band}, {previous_band}, {owner}
    and {delta}.
    """

    class Kind(models.TextChoices):
        CREATE_TASK = "create_task", "Create a CSM task"
        SEND_EMAIL = "send_email", "Send an email"
        POST_SLACK = "post_slack", "Post to Slack"
        SEND_WEBHOOK = "send_webhook", "Send a signed webhook"
        SET_FIELD = "set_field", "Set a field on the account"

    DELIVERY_KINDS = (Kind.SEND_EMAIL, Kind.POST_SLACK, Kind.SEND_WEBHOOK)

    class Assignee(models.TextChoices):
        OWNER = "owner", "Account owner"
        OWNER_MANAGER = "owner_manager", "The owner's manager"
        USER = "user", "A named user"

    class Recipient(models.TextChoices):
        OWNER = "owner", "Account owner"
        OWNER_MANAGER = "owner_manager", "The owner's manager"
        ADDRESS = "address", "An email address"

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CREATE_TASK)
    wait_days = models.PositiveIntegerField(
        default=0, help_text="Days to wait after the previous step (or the trigger)."
    )

    task_title = models.CharField(max_length=200, blank=True)
    task_description = models.TextField(blank=True)
    task_priority = models.CharField(
        max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    task_due_in_days = models.PositiveIntegerField(default=2)
    assignee_rule = models.CharField(
        max_length=16, choices=Assignee.choices, default=Assignee.OWNER
    )
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="When the assignee is a named user.",
    )

    email_to = models.CharField(max_length=16, choices=Recipient.choices, default=Recipient.OWNER)
    email_address = models.EmailField(blank=True)
    email_subject = models.CharField(max_length=200, blank=True)
    email_body = models.TextField(blank=True)

    slack_webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Empty = the site's SLACK_DEFAULT_WEBHOOK_URL."
    )
    slack_text = models.TextField(blank=True)

    webhook_endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    field_name = models.CharField(
        max_length=100, blank=True, help_text="lifecycle_stage, plan, segment or attributes.<key>"
    )
    field_value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["playbook", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "position"], name="step_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"

    def errors(self) -> dict[str, list[str]]:
        """What is missing or wrong for this kind of step, by field."""
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(
                f"Step {self.position} ({self.get_kind_display().lower()}): {message}"
            )

        def texts(*fields: str) -> None:
            for field in fields:
                for message in placeholder_errors(getattr(self, field)):
                    add(field, message)

        k = self.Kind
        if self.kind == k.CREATE_TASK:
            if not self.task_title.strip():
                add("task_title", "give the task a title.")
            if self.assignee_rule == self.Assignee.USER and self.assignee_user_id is None:
                add("assignee_user", "choose the user the task goes to.")
            texts("task_title", "task_description")
        elif self.kind == k.SEND_EMAIL:
            if self.email_to == self.Recipient.ADDRESS and not self.email_address:
                add("email_address", "give the address to send to.")
            if not self.email_subject.strip():
                add("email_subject", "give the email a subject.")
            if not self.email_body.strip():
                add("email_body", "write the email's text.")
            texts("email_subject", "email_body")
        elif self.kind == k.POST_SLACK:
            if not (self.slack_webhook_url or settings.SLACK_DEFAULT_WEBHOOK_URL):
                add(
                    "slack_webhook_url",
                    "give the Slack incoming-webhook URL (no site default is set).",
                )
            elif self.slack_webhook_url and (refusal := url_refusal(self.slack_webhook_url)):
                add("slack_webhook_url", refusal)
            if not self.slack_text.strip():
                add("slack_text", "write the message.")
            texts("slack_text")
        elif self.kind == k.SEND_WEBHOOK:
            if self.webhook_endpoint_id is None:
                add("webhook_endpoint", "choose the endpoint.")
        elif self.kind == k.SET_FIELD:
            for field, message in set_field_errors(self.field_name, self.field_value):
                add(field, message)
        return errors

    def clean(self) -> None:
        errors = self.errors()
        if errors:
            raise ValidationError(errors)


def set_field_errors(name: str, value: str) -> list[tuple[str, str]]:
    """(field, message) for what is wrong with a set-field step's field name and value."""
    if name in ("lifecycle_stage", "segment"):
        choices = Account.Stage if name == "lifecycle_stage" else Account.Segment
        if value not in choices.values:
            return [("field_value", f"{value!r} is not one of {', '.join(choices.values)}.")]
        return []
    if name == "plan":
        return []
    if name.startswith("attributes."):
        if not name.removeprefix("attributes.").strip():
            return [("field_name", "attributes.<key> needs a key, e.g. attributes.risk_flag.")]
        return []
    return [
        (
            "field_name",
            f"{name!r} cannot be set; use lifecycle_stage, plan, segment or attributes.<key>.",
        )
    ]


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
        PlaybookStepRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        help_text="The playbook step that made it; empty for a manual task.",
    )
    # The step it came from, kept beside the step run so that the database holds "one
    # open task per account and step" (task_one_open_per_step).
    playbook_step = models.ForeignKey(
        PlaybookStep,
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
            models.Index(fields=["account", "created_at"], name="task_account_time"),
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


class Delivery(models.Model):
    """One outbound message (email, Slack post or webhook) and every attempt to send it.

    ``payload`` is the exact body sent (JSON text; for an email, a JSON object with
    subject, text and html). ``idempotency_key`` is unique, so a step or an event is
    delivered once however often its task runs; receivers see it as
    ``X-Vitals-Delivery`` to drop the duplicates a network failure can still cause.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500, help_text="URL or email address.")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    event = models.CharField(max_length=40, help_text="e.g. task.created or playbook.step")
    payload = models.TextField()
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step_run = models.ForeignKey(
        PlaybookStepRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    idempotency_key = models.CharField(max_length=120, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is sending it until then."
    )
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    log = models.JSONField(default=list, blank=True, help_text="Every attempt: when and how.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.event} → {self.target}"
