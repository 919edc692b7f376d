"""The shapes of tasks and playbooks over the API (/api/v1/tasks/, /api/v1/playbooks/)."""

from __future__ import annotations

from rest_framework import serializers

from playbooks.models import Task


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
