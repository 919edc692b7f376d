"""REST API for tasks (/api/v1/tasks/) and playbooks (/api/v1/playbooks/).

Tasks are reached through ``tasks_visible_to_token``: a token acting for a person sees
the tasks on that person's accounts and the tasks assigned to them, and answers 404 for
any other task, existing or not. Changes go through ``playbooks.services``.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken, User
from config.api_schema import error_responses
from config.errors import Conflict
from playbooks.filters import TaskApiFilter
from playbooks.models import PRIORITY_RANK, Playbook, PlaybookStep, Task
from playbooks.selectors import (
    task_assignees_for,
    task_get_visible_to_token,
    tasks_visible_to_token,
)
from playbooks.serializers import (
    PlaybookSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from playbooks.services import PlaybookError, task_complete, task_reassign, task_snooze

TASKS_READ = "tasks:read"
TASKS_WRITE = "tasks:write"

# The service's names for fields, where the API's differ.
_FIELD_NAMES = {"until": "snoozed_until"}


def _tasks(token: ApiToken) -> QuerySet[Task]:
    return tasks_visible_to_token(
        token=token,
        queryset=Task.objects.select_related(
            "account", "assignee", "origin_step_run__run__playbook"
        ).annotate(
            # `ordering=priority`: most urgent first.
            priority_rank=Case(
                *(When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
                default=Value(9),
                output_field=IntegerField(),
            )
        ),
    )


def _task_error(error: PlaybookError) -> Exception:
    """A closed task answers 409 (`task_closed`); anything else is bad input (400)."""
    field = _FIELD_NAMES.get(error.field or "", error.field) or "non_field_errors"
    if field == "status":
        return Conflict(error.message, code="task_closed", fields={field: [error.message]})
    return ValidationError({field: [error.message]})


def _assignee(token: ApiToken, username: str) -> User:
    """The active person ``username``, if the token may hand tasks to them."""
    if token.user_id is None:
        people = User.objects.filter(is_active=True)
    else:
        people = task_assignees_for(user=token.user)
    person = people.filter(username=username).first()
    if person is None:
        raise ValidationError(
            {"assignee": [f"No active user '{username}' that this token may assign to."]}
        )
    return person


@extend_schema(
    tags=["tasks"],
    summary="List tasks",
    description="The tasks this token reaches, paginated: for a token acting for a person, "
    "the tasks on accounts in their scope and the tasks assigned to them. Filter by status, "
    "assignee, account and due date; order by due date, priority (most urgent first) or "
    "creation.",
    responses={200: TaskSerializer(many=True), **error_responses(400, 404)},
)
class TaskListView(generics.ListAPIView):
    required_scopes = {"GET": TASKS_READ}
    serializer_class = TaskSerializer
    filterset_class = TaskApiFilter

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return Task.objects.none()
        return _tasks(self.request.auth).order_by("due_date", "pk")


TASK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The task's id.")


class TaskDetailView(APIView):
    required_scopes = {"GET": TASKS_READ, "PATCH": TASKS_WRITE}

    def _get(self, request: Request, id: int) -> Task:
        return task_get_visible_to_token(token=request.auth, pk=id, queryset=_tasks(request.auth))

    @extend_schema(
        tags=["tasks"],
        summary="Get a task",
        parameters=[TASK_ID],
        responses={200: TaskSerializer, **error_responses(404)},
    )
    def get(self, request: Request, id: int) -> Response:
        return Response(TaskSerializer(self._get(request, id)).data)

    @extend_schema(
        tags=["tasks"],
        summary="Complete, snooze or reassign a task",
        description='`{"status": "done"}` completes the task (again: no change); '
        '`{"status": "snoozed", "snoozed_until": "YYYY-MM-DD"}` snoozes it until a day '
        'after today; `{"assignee": "username"}` gives it to another active person (for '
        "a token acting for a person: one they may give tasks to). A task that is done "
        "or cancelled cannot be changed: 409 `task_closed`.",
        parameters=[TASK_ID],
        request=TaskUpdateSerializer,
        examples=[
            OpenApiExample("Complete", value={"status": "done"}, request_only=True),
            OpenApiExample(
                "Snooze",
                value={"status": "snoozed", "snoozed_until": "2026-12-01"},
                request_only=True,
            ),
            OpenApiExample("Reassign", value={"assignee": "bob"}, request_only=True),
        ],
        responses={200: TaskSerializer, **error_responses(400, 404, 409, 413)},
    )
    def patch(self, request: Request, id: int) -> Response:
        task = self._get(request, id)
        serializer = TaskUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token: ApiToken = request.auth
        by = token.user
        now = timezone.now()
        try:
            with transaction.atomic():  # both changes or neither
                if "assignee" in data:
                    to = _assignee(token, data["assignee"])
                    task = task_reassign(task=task, to=to, by=by, now=now)
                if data.get("status") == "done":
                    task = task_complete(task=task, by=by, now=now)
                elif data.get("status") == "snoozed":
                    task = task_snooze(task=task, until=data["snoozed_until"], by=by, now=now)
        except PlaybookError as error:
            raise _task_error(error) from None
        return Response(TaskSerializer(self._get(request, task.pk)).data)


# --- Playbooks -------------------------------------------------------------------------------


def _playbooks() -> QuerySet[Playbook]:
    return Playbook.objects.select_related("metric", "owner_team").prefetch_related(
        Prefetch(
            "steps",
            queryset=PlaybookStep.objects.select_related("assignee_user", "webhook_endpoint"),
        )
    )


@extend_schema(
    tags=["configuration"],
    summary="List playbooks",
    description="Every playbook, by name, with its trigger, conditions and steps.",
    responses={200: PlaybookSerializer(many=True), **error_responses(404)},
)
class PlaybookListView(generics.ListAPIView):
    required_scopes = {"GET": "config:read"}
    serializer_class = PlaybookSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Playbook]:
        return _playbooks().order_by("name", "pk")


@extend_schema(
    tags=["configuration"],
    summary="Get a playbook",
    parameters=[
        OpenApiParameter("id", int, OpenApiParameter.PATH, description="The playbook's id.")
    ],
    responses={200: PlaybookSerializer, **error_responses(404)},
)
class PlaybookDetailView(generics.RetrieveAPIView):
    required_scopes = {"GET": "config:read"}
    serializer_class = PlaybookSerializer
    lookup_field = "pk"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> QuerySet[Playbook]:
        return _playbooks()
