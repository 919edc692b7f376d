"""The shapes of tasks and playbooks over the API (/api/v1/tasks/, /api/v1/playbooks/)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Account, RiskLevel, Team, User
from config.api_fields import FIELD_MAPPING, TextField
from contacts.models import ContactRole
from playbooks.models import Playbook, PlaybookStep, Task, WebhookEndpoint
from scoring.models import Metric
from scoring.serializers.configuration import RelatedListField, SlugLookupField


class TaskSerializer(serializers.ModelSerializer):
    account = TextField(
        source="account.external_id", read_only=True, help_text="The account's external id."
    )
    assignee = TextField(
        source="assignee.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Username of the person it is assigned to; null when nobody is.",
    )
    playbook = serializers.SerializerMethodField(
        help_text="Name of the playbook that made it; null for a task made by hand."
    )
    status = serializers.SerializerMethodField(
        help_text="open, snoozed, done, resolved (closed because the account recovered) or "
        "cancelled. A snooze whose day has come reads open."
    )
    due_date = serializers.SerializerMethodField(
        help_text="The day it is due; a snooze that has woken is due on its wake-up day."
    )
    snoozed_until = serializers.SerializerMethodField(
        help_text="The day a snoozed task comes back; null otherwise."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "account",
            "title",
            "description",
            "priority",
            "due_date",
            "status",
            "snoozed_until",
            "assignee",
            "playbook",
            "created_at",
            "completed_at",
            "closed_at",
            "close_reason",
        ]
        read_only_fields = fields

    def _today(self):
        return timezone.localdate()

    @extend_schema_field(serializers.ChoiceField(choices=Task.Status.choices))
    def get_status(self, task: Task) -> str:
        return task.current_status(self._today())

    @extend_schema_field(serializers.DateField())
    def get_due_date(self, task: Task):
        return task.current_due_date(self._today())

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_snoozed_until(self, task: Task):
        return task.snoozed_until if task.current_status(self._today()) == "snoozed" else None

    def get_playbook(self, task: Task) -> str | None:
        step_run = task.origin_step_run
        return step_run.run.playbook.name if step_run is not None else None


class TaskCreateSerializer(serializers.Serializer):
    """POST /api/v1/tasks/: a task made by hand on an account the token reaches."""

    account = TextField(max_length=100, help_text="The account's external id.")
    title = TextField(max_length=200, help_text="What is to be done.")
    description = TextField(required=False, default="", allow_blank=True, max_length=10_000)
    due_date = serializers.DateField(help_text="The day it is due (YYYY-MM-DD).")
    priority = serializers.ChoiceField(
        choices=Task.Priority.choices, required=False, default=Task.Priority.NORMAL
    )
    assignee = TextField(
        required=False,
        allow_null=True,
        default=None,
        max_length=150,
        help_text="Username of an active person to give it to; the account's owner when not given.",
    )


class TaskUpdateSerializer(serializers.Serializer):
    """PATCH /api/v1/tasks/{id}/: complete, snooze or reassign (or reassign and then
    complete or snooze, in one request)."""

    status = serializers.ChoiceField(
        choices=[("done", "Done"), ("snoozed", "Snoozed")],
        required=False,
        help_text="`done` completes the task; `snoozed` hides it until `snoozed_until`.",
    )
    snoozed_until = serializers.DateField(
        required=False,
        help_text="With `status: snoozed`: the day it comes back (after today).",
    )
    assignee = TextField(
        required=False,
        max_length=150,
        help_text="Username of an active person to give the task to.",
    )

    def validate(self, data: dict) -> dict:
        if not data:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give `status` or `assignee` (or both)."]}
            )
        if data.get("status") == "snoozed" and "snoozed_until" not in data:
            raise serializers.ValidationError(
                {"snoozed_until": ["Give the day the task comes back (YYYY-MM-DD)."]}
            )
        if "snoozed_until" in data and data.get("status") != "snoozed":
            raise serializers.ValidationError({"snoozed_until": ["Only with `status: snoozed`."]})
        return data


# --- Playbooks -------------------------------------------------------------------------------


class PlaybookStepSerializer(serializers.ModelSerializer):
    """One step. On a write, ``position`` comes from the step's place in ``steps``."""

    serializer_field_mapping = FIELD_MAPPING

    assignee_user = SlugLookupField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="`assignee_rule: user`: username of the (active) person the task goes to.",
    )
    # Empty when not used, so no "email"/"uri" format: the schema must admit "".
    email_address = TextField(
        required=False,
        allow_blank=True,
        max_length=254,
        validators=[EmailValidator()],
        help_text="`email_to: address`: the address; otherwise empty.",
    )
    email_contact_role = SlugLookupField(
        slug_field="key",
        queryset=ContactRole.objects.all(),
        required=False,
        allow_null=True,
        help_text="`email_to: contact_role`: the role's key (champion, decision_maker, …).",
    )
    slack_webhook_url = TextField(
        required=False,
        allow_blank=True,
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Empty = the site's SLACK_DEFAULT_WEBHOOK_URL.",
    )
    webhook_endpoint = SlugLookupField(
        slug_field="name",
        queryset=WebhookEndpoint.objects.all(),
        required=False,
        allow_null=True,
        help_text="`send_webhook`: name of the webhook endpoint.",
    )

    class Meta:
        model = PlaybookStep
        fields = [
            "position",
            "kind",
            "wait_days",
            "task_title",
            "task_description",
            "task_priority",
            "task_due_in_days",
            "assignee_rule",
            "assignee_user",
            "email_to",
            "email_address",
            "email_contact_role",
            "email_subject",
            "email_body",
            "slack_webhook_url",
            "slack_text",
            "webhook_endpoint",
            "field_name",
            "field_value",
        ]
        read_only_fields = ["position"]


class PlaybookSerializer(serializers.ModelSerializer):
    """A playbook with its steps (in order).

    Writes are checked as the admin checks them: each field, the trigger's parameters and
    conditions together (``Playbook.clean``), and each step for its kind and placeholders
    (errors under ``steps``, keyed by the step's index from 0, then the field).
    """

    metric = SlugLookupField(
        slug_field="key",
        queryset=Metric.objects.all(),
        required=False,
        allow_null=True,
        help_text="`metric_threshold`: the metric's key.",
        error_messages={"does_not_exist": "Unknown metric '{value}'."},
    )
    contact_role = SlugLookupField(
        slug_field="key",
        queryset=ContactRole.objects.all(),
        required=False,
        allow_null=True,
        help_text="`contact_left`: the role's key (champion, decision_maker, …).",
    )
    owner_team = SlugLookupField(
        slug_field="name",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="Only accounts owned by a member of this team (its name).",
    )
    # Empty means "any" (a condition) or "not used" (the direction of other triggers).
    direction = serializers.ChoiceField(
        choices=Playbook.Direction.choices, allow_blank=True, required=False
    )
    segment = serializers.ChoiceField(
        choices=Account.Segment.choices, allow_blank=True, required=False
    )
    lifecycle_stage = serializers.ChoiceField(
        choices=Account.Stage.choices, allow_blank=True, required=False
    )
    level = serializers.ChoiceField(
        choices=RiskLevel.choices,
        allow_blank=True,
        required=False,
        help_text="`level_entered`: the risk level the account enters (with `or_worse`, "
        "or a worse one), whatever scoring model scored it.",
    )
    level_at_least = serializers.ChoiceField(
        choices=RiskLevel.choices,
        allow_blank=True,
        required=False,
        help_text="Condition: only accounts whose confirmed band is at this level or worse.",
    )
    serializer_field_mapping = FIELD_MAPPING
    steps = RelatedListField(
        child=PlaybookStepSerializer(),
        max_length=50,
        required=False,
        help_text="In order. Given on a write, it replaces the playbook's steps (refused "
        "with 409 `playbook_has_runs` once runs have used them).",
    )

    class Meta:
        model = Playbook
        fields = [
            "id",
            "name",
            "description",
            "is_active",
            "enabled_at",
            "trigger",
            "level",
            "or_worse",
            "from_band_name",
            "to_band_name",
            "drop_points",
            "within_days",
            "score_threshold",
            "renewal_days",
            "band_names",
            "band_names_exclude",
            "metric",
            "direction",
            "threshold",
            "contact_role",
            "outcome_kinds",
            "segment",
            "plan",
            "lifecycle_stage",
            "arr_min",
            "arr_max",
            "owner_team",
            "level_at_least",
            "cooldown_days",
            "on_recovery",
            "on_rebaseline",
            "holdout_pct",
            "holdout_arr_max",
            "created_at",
            "steps",
        ]
        read_only_fields = ["id", "enabled_at", "created_at"]
        extra_kwargs = {
            "holdout_pct": {"min_value": 0, "max_value": 50},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fields = {name: value for name, value in attrs.items() if name != "steps"}
        playbook = copy.copy(self.instance) if self.instance is not None else Playbook()
        for name, value in fields.items():
            setattr(playbook, name, value)
        errors: dict[str, Any] = {}
        try:
            playbook.clean()
        except DjangoValidationError as error:
            errors.update(error.message_dict)
        step_errors = {}
        for index, step in enumerate(attrs.get("steps") or []):
            found = PlaybookStep(position=index + 1, **step).errors()
            if found:
                step_errors[str(index)] = found
        if step_errors:
            errors["steps"] = step_errors
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- Backfill and effectiveness ----------------------------------------------------------------


class BackfillSerializer(serializers.Serializer):
    since = serializers.DateField(
        help_text="Act on the events from this day up to when the playbook was switched on."
    )
    dry_run = serializers.BooleanField(
        default=True,
        help_text="true (the default): count the runs a backfill would create, create none.",
    )


class BackfillResultSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField(
        allow_null=True, help_text="When the playbook was switched on."
    )
    events = serializers.IntegerField(help_text="Events matching the trigger and conditions.")
    runs = serializers.IntegerField(help_text="Runs created (or, in a dry run, that would be).")
    dry_run = serializers.BooleanField()


class ArmSerializer(serializers.Serializer):
    runs = serializers.IntegerField()
    mature = serializers.IntegerField(help_text="Runs whose outcome window has passed.")
    recovered = serializers.IntegerField()
    retained = serializers.IntegerField()
    recovered_rate = serializers.FloatField(allow_null=True)
    retained_rate = serializers.FloatField(allow_null=True)


class EffectSerializer(serializers.Serializer):
    difference = serializers.FloatField(help_text="Acted-on rate minus held-out rate (0–1).")
    lower = serializers.FloatField(help_text="95 % confidence interval, lower end.")
    upper = serializers.FloatField(help_text="95 % confidence interval, upper end.")


class EffectivenessSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    days = serializers.IntegerField(
        help_text="Outcomes are measured this many days after each run."
    )
    acted = ArmSerializer(help_text="Runs acted on (tasks, messages).")
    held_out = ArmSerializer(help_text="Runs held out at random: no tasks, no messages.")
    skipped = serializers.IntegerField(help_text="Re-baselines recorded but not acted on.")
    outside = serializers.IntegerField(
        help_text="Runs acted on for accounts that could not have been held out (above the "
        "hold-out's ARR limit): not in the comparison."
    )
    tasks = serializers.DictField(
        child=serializers.IntegerField(), help_text="Tasks of the runs acted on, by status."
    )
    median_days_to_done = serializers.FloatField(allow_null=True)
    recovered_effect = EffectSerializer(allow_null=True)
    retained_effect = EffectSerializer(allow_null=True)
