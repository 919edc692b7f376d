"""GET /api/v1/tasks/ query parameters."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from playbooks.models import Task


class _StableOrderingFilter(django_filters.OrderingFilter):
    """Ends every ordering with the primary key, so that pages never overlap nor skip rows."""

    def filter(self, qs: QuerySet[Task], value: list[str] | None) -> QuerySet[Task]:
        params = [param for param in value or [] if param]
        if not params:
            return qs
        return qs.order_by(*(self.get_ordering_value(param) for param in params), "pk")


class TaskApiFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=Task.Status.choices,
        method="filter_status",
        help_text="Status as it stands today: a snooze whose day has come is open.",
    )
    assignee = django_filters.CharFilter(
        field_name="assignee__username", help_text="Username of the person it is assigned to."
    )
    account = django_filters.CharFilter(
        field_name="account__external_id", help_text="External id of the account."
    )
    due_before = django_filters.DateFilter(
        field_name="due_date",
        lookup_expr="lte",
        help_text="Due on or before this date (YYYY-MM-DD).",
    )
    due_after = django_filters.DateFilter(
        field_name="due_date",
        lookup_expr="gte",
        help_text="Due on or after this date (YYYY-MM-DD).",
    )
    ordering = _StableOrderingFilter(
        fields=["due_date", ("priority_rank", "priority"), "created_at"],
        help_text="Sort key; prefix with '-' for descending. Default: due date. "
        "`priority`: most urgent first.",
    )

    class Meta:
        model = Task
        fields = ["status", "assignee", "account", "due_before", "due_after", "ordering"]

    def filter_status(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        today = timezone.localdate()
        woken = Q(status=Task.Status.SNOOZED, snoozed_until__lte=today)
        if value == Task.Status.OPEN:
            return queryset.filter(Q(status=Task.Status.OPEN) | woken)
        if value == Task.Status.SNOOZED:
            return queryset.filter(status=Task.Status.SNOOZED).exclude(woken)
        return queryset.filter(status=value)
