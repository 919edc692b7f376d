"""The shapes of tasks and playbooks over the API (/api/v1/tasks/, /api/v1/playbooks/)."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Account
from playbooks.models import Playbook, PlaybookStep, Task


class TaskSerializer(serializers.ModelSerializer):
    account = serializers.CharField(
        source="account.external_id", read_only=True, help_text="The account's external id."
    )
    assignee = serializers.CharField(
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
    assignee = serializers.CharField(
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
    assignee_user = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="`assignee_rule: user`: username of the person the task goes to.",
    )
    # Empty when not used, so no "email"/"uri" format: the schema must admit "".
    email_address = serializers.CharField(
        read_only=True, help_text="`email_to: address`: the address; otherwise empty."
    )
    slack_webhook_url = serializers.CharField(
        read_only=True, help_text="Empty = the site's SLACK_DEFAULT_WEBHOOK_URL."
    )
    webhook_endpoint = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
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
        read_only_fields = fields


class PlaybookSerializer(serializers.ModelSerializer):
    metric = serializers.SlugRelatedField(
        slug_field="key",
        read_only=True,
        allow_null=True,
        help_text="`metric_threshold`: the metric's key.",
    )
    owner_team = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="Only accounts owned by a member of this team (its name).",
    )
    # Empty means "any" (a condition) or "not used" (the direction of other triggers).
    direction = serializers.ChoiceField(
        choices=Playbook.Direction.choices, allow_blank=True, read_only=True
    )
    segment = serializers.ChoiceField(
        choices=Account.Segment.choices, allow_blank=True, read_only=True
    )
    lifecycle_stage = serializers.ChoiceField(
        choices=Account.Stage.choices, allow_blank=True, read_only=True
    )
    steps = PlaybookStepSerializer(many=True, read_only=True)

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
        read_only_fields = fields
