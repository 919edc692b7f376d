"""REST API for tasks (/api/v1/tasks/) and playbooks (/api/v1/playbooks/).

Tasks are reached through ``tasks_visible_to_token``: a token acting for a person sees
the tasks on that person's accounts and the tasks assigned to them, and answers 404 for
any other task, existing or not. Playbooks are configuration (``config:read`` to read,
``config:write`` to create and change). Changes go through ``playbooks.services``.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from accounts.authentication import request_token
from accounts.models import ApiToken, User
from accounts.selectors import accounts_visible_to_token
from config.api_schema import error_responses
from config.errors import Conflict
from playbooks.effectiveness import playbook_effectiveness
from playbooks.filters import TaskApiFilter
from playbooks.forms import EffectivenessForm, form_errors
from playbooks.models import PRIORITY_RANK, Playbook, PlaybookStep, Task
from playbooks.selectors import (
    task_assignees_for,
    task_get_visible_to_token,
    tasks_visible_to_token,
)
from playbooks.serializers import (
    BackfillResultSerializer,
    BackfillSerializer,
    EffectivenessSerializer,
    PlaybookSerializer,
    TaskCreateSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from playbooks.services import (
    PlaybookError,
    playbook_backfill,
    playbook_save,
    task_complete,
    task_create_manual,
    task_reassign,
    task_snooze,
)

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


def _task_error(error: PlaybookError) -> PlaybookError:
    """The service's refusal (its own code and status) with its field named as the API
    names it."""
    if error.field in _FIELD_NAMES:
        error.fields = {_FIELD_NAMES[error.field]: [error.message]}
    return error


def _assignee(token: ApiToken, username: str) -> User:
    """The active person ``username``, if the token may hand tasks to them."""
    if token.user is None:
        people = User.objects.filter(is_active=True)
    else:
        people = task_assignees_for(user=token.user)
    person = people.filter(username=username).first()
    if person is None:
        raise ValidationError(
            {"assignee": [f"No active user '{username}' that this token may assign to."]}
        )
    return person


@extend_schema(tags=["tasks"])
class TaskListView(generics.ListAPIView):
    required_scopes = {"GET": TASKS_READ, "POST": TASKS_WRITE}
    serializer_class = TaskSerializer
    filterset_class = TaskApiFilter

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return Task.objects.none()
        return _tasks(request_token(self.request)).order_by("due_date", "pk")

    @extend_schema(
        summary="List tasks",
        description="The tasks this token reaches, paginated: for a token acting for a "
        "person, the tasks on accounts in their scope and the tasks assigned to them. Filter "
        "by status, assignee, account and due date; order by due date, priority (most "
        "urgent first) or creation.",
        responses={200: TaskSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a task",
        description="A task made by hand on the account `account` (its external id), which "
        "must be one this token reaches and still a customer. It goes to `assignee` (for a "
        "token acting for a person: someone they may give tasks to) or else to the "
        "account's owner, and tells the endpoints subscribed to `task.created`.",
        request=TaskCreateSerializer,
        examples=[
            OpenApiExample(
                "Call before the renewal",
                value={
                    "account": "acme",
                    "title": "Call Acme about the renewal",
                    "due_date": "2026-12-08",
                    "priority": "high",
                    "assignee": "alice",
                },
                request_only=True,
            )
        ],
        responses={201: TaskSerializer, **error_responses(400, 413)},
    )
    def post(self, request: Request) -> Response:
        serializer = TaskCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = request_token(request)
        account = accounts_visible_to_token(token=token).filter(external_id=data["account"]).first()
        if account is None:
            raise ValidationError(
                {"account": [f"No account '{data['account']}' that this token reaches."]}
            )
        assignee = _assignee(token, data["assignee"]) if data["assignee"] else None
        try:
            task = task_create_manual(
                account=account,
                title=data["title"],
                description=data["description"],
                due_date=data["due_date"],
                priority=data["priority"],
                assignee=assignee,
                created_by=token.user,
                now=timezone.now(),
            )
        except PlaybookError as error:
            raise _task_error(error) from None
        task = _tasks(token).get(pk=task.pk)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


TASK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The task's id.")


class TaskDetailView(APIView):
    required_scopes = {"GET": TASKS_READ, "PATCH": TASKS_WRITE}

    def _get(self, request: Request, id: int) -> Task:
        token = request_token(request)
        return task_get_visible_to_token(token=token, pk=id, queryset=_tasks(token))

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
        token = request_token(request)
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


def _playbook_save(serializer: BaseSerializer[Playbook], playbook: Playbook | None) -> Playbook:
    data = dict(serializer.validated_data)
    steps = data.pop("steps", None)
    if playbook is None and steps is None:
        steps = []
    try:
        saved = playbook_save(playbook=playbook, fields=data, steps=steps)  # 409 has runs
    except IntegrityError:
        raise Conflict(
            "Another playbook with this name was saved at the same moment; try again.",
            code="conflict",
        ) from None
    return _playbooks().get(pk=saved.pk)


PLAYBOOK_EXAMPLE = OpenApiExample(
    "Call accounts that turn At-risk",
    value={
        "name": "Became At-risk",
        "trigger": "band_changed",
        "to_band_name": "At-risk",
        "segment": "enterprise",
        "cooldown_days": 30,
        "steps": [
            {
                "kind": "create_task",
                "task_title": "Call {account}: now {band} ({score})",
                "task_priority": "high",
                "task_due_in_days": 2,
            },
            {
                "kind": "send_email",
                "wait_days": 3,
                "email_to": "owner_manager",
                "email_subject": "{account} is {band}",
                "email_body": "{owner} has been asked to call {account}.",
            },
        ],
    },
    request_only=True,
)


@extend_schema(tags=["configuration"])
class PlaybookListView(generics.ListCreateAPIView):
    required_scopes = {"GET": "config:read", "POST": "config:write"}
    serializer_class = PlaybookSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Playbook]:
        return _playbooks().order_by("name", "pk")

    @extend_schema(
        summary="List playbooks",
        description="Every playbook, by name, with its trigger, conditions and steps.",
        responses={200: PlaybookSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a playbook",
        description="A playbook with its steps, in order (their `position` follows). It "
        "is checked as in the admin: the parameters its trigger needs, band names that "
        "exist, the ARR range, and each step for its kind and its placeholders "
        "({account}, {score}, {band}, {previous_band}, {owner}, {delta}, {contact}). 400 names "
        "each bad field; for a step, under `steps` by its index from 0, then the field.",
        examples=[PLAYBOOK_EXAMPLE],
        responses={201: PlaybookSerializer, **error_responses(400, 409, 413)},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        playbook = _playbook_save(serializer, None)
        return Response(self.get_serializer(playbook).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["configuration"],
    parameters=[
        OpenApiParameter("id", int, OpenApiParameter.PATH, description="The playbook's id.")
    ],
)
class PlaybookDetailView(generics.RetrieveUpdateAPIView):
    required_scopes = {"GET": "config:read", "PATCH": "config:write"}
    http_method_names = ["get", "patch", "head", "options"]
    serializer_class = PlaybookSerializer
    lookup_field = "pk"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> QuerySet[Playbook]:
        return _playbooks()

    @extend_schema(
        summary="Get a playbook",
        responses={200: PlaybookSerializer, **error_responses(404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Change a playbook",
        description="The fields given change, and the whole playbook is checked again "
        "as on create. `steps`, when given, replace the playbook's steps, in one "
        "transaction. Once the playbook has run, its steps are the record of those runs "
        "and are not replaced: 409 `playbook_has_runs` (change the other fields, or "
        "create a new playbook and deactivate this one).",
        responses={200: PlaybookSerializer, **error_responses(400, 404, 409, 413)},
    )
    def patch(self, request: Request, *args, **kwargs) -> Response:
        playbook = self.get_object()
        serializer = self.get_serializer(playbook, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(self.get_serializer(_playbook_save(serializer, playbook)).data)


PLAYBOOK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The playbook's id.")


@extend_schema(tags=["configuration"], parameters=[PLAYBOOK_ID])
class PlaybookBackfillView(APIView):
    required_scopes = {"POST": "config:write"}

    @extend_schema(
        summary="Backfill a playbook",
        description="A playbook acts on events from when it was switched on "
        "(`enabled_at`). This acts on the earlier ones, from `since`: with `dry_run` "
        "(the default) it only counts the runs it would create; with `dry_run: false` it "
        "creates them. Each event still fires at most once, and cooldowns apply.",
        request=BackfillSerializer,
        responses={200: BackfillResultSerializer, **error_responses(400, 404, 413)},
    )
    def post(self, request: Request, id: int) -> Response:
        playbook = get_object_or_404(Playbook, pk=id)
        serializer = BackfillSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        day = serializer.validated_data["since"]
        result = playbook_backfill(
            playbook=playbook,
            since=timezone.make_aware(dt.datetime.combine(day, dt.time.min)),
            now=timezone.now(),
            dry_run=serializer.validated_data["dry_run"],
        )
        return Response(BackfillResultSerializer(result).data)


@extend_schema(tags=["configuration"], parameters=[PLAYBOOK_ID])
class PlaybookEffectivenessView(APIView):
    required_scopes = {"GET": "config:read"}

    @extend_schema(
        summary="Did the playbook work?",
        description="The playbook's runs started in [`since`, `until`) (default: the last "
        "180 days), what became of their tasks, and the share of accounts that recovered a "
        "risk level, and that stayed customers, within `days` (default 21) — for the runs "
        "acted on and for the hold-out, with the difference and its 95 % interval.",
        parameters=[
            OpenApiParameter("since", dt.date, description="First day of the period."),
            OpenApiParameter("until", dt.date, description="Day after the period."),
            OpenApiParameter("days", int, description="Outcome window in days (1–365)."),
        ],
        responses={200: EffectivenessSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request, id: int) -> Response:
        playbook = get_object_or_404(Playbook, pk=id)
        form = EffectivenessForm(request.query_params or None)
        if form.is_bound and not form.is_valid():
            raise ValidationError(form_errors(form))
        since, until, days = form.period()
        report = playbook_effectiveness(
            playbook=playbook, since=since, until=until, days=days, now=timezone.now()
        )
        return Response(EffectivenessSerializer(report).data)
