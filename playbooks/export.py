"""A person's queue (or what they finished) as CSV: one row per task with its account's
figures, formatted as the account export formats its cells (``accounts.export``), and
streamed as it is read. A queue is at most a few thousand rows: the same Python path
serves both databases."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse

from accounts.export import DATE, NUMBER, PLAIN, SCORE, TEXT, csv_download, values_csv
from playbooks.models import Task

COLUMNS: list[tuple[str, str, str]] = [
    ("Task id", "id", PLAIN),
    ("Title", "title", TEXT),
    ("Priority", "priority", PLAIN),
    ("Status", "state", PLAIN),
    ("Due", "when", DATE),
    ("Assignee", "assignee__username", TEXT),
    ("Origin", "origin", TEXT),
    ("Account external id", "account__external_id", TEXT),
    ("Account", "account__name", TEXT),
    ("Owner", "account__owner__username", TEXT),
    ("ARR", "account__arr", NUMBER),
    ("Band", "account__health__band__name", PLAIN),
    ("Health score", "account__health__score", SCORE),
    ("Renewal date", "account__renewal_date", DATE),
    ("Created", "created_on", DATE),
    ("Completed", "completed_on", DATE),
    ("Description", "description", TEXT),
]


def tasks_csv_response(
    tasks: QuerySet[Task], *, today: dt.date, name: str
) -> StreamingHttpResponse:
    """``tasks`` (annotated with ``when``, already scoped and ordered) as the download
    ``<name>-<today>.csv``. A snooze whose day has come reads open, due that day, as on
    the queue."""
    rows = tasks.annotate(
        state=Case(
            When(status=Task.Status.SNOOZED, snoozed_until__lte=today, then=Value("open")),
            default=F("status"),
            output_field=CharField(),
        ),
        origin=Coalesce(
            "origin_step_run__run__playbook__name", Value("added by hand"), output_field=CharField()
        ),
        created_on=F("created_at__date"),
        completed_on=F("completed_at__date"),
    )
    return csv_download(values_csv(rows, COLUMNS), name=name)
