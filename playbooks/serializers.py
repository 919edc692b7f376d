"""The shapes of tasks and playbooks over the API (/api/v1/tasks/, /api/v1/playbooks/)."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from rest_framework import serializers

from accounts.models import Account, Team, User
from config.api_fields import FIELD_MAPPING, TextField
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
        ]
        read_only_fields = fields

    def get_playbook(self, task: Task) -> str | None:
        step_run = task.origin_step_run
        return step_run.run.playbook.name if step_run is not None else None


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
            "trigger",
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
            "segment",
            "plan",
            "lifecycle_stage",
            "arr_min",
            "arr_max",
            "owner_team",
            "cooldown_days",
            "created_at",
            "steps",
        ]
        read_only_fields = ["id", "created_at"]

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
