"""Task pages: my queue (/tasks/), the team page (/team/), and the task and note actions
of the queue and the account page.

Every action finds its task through ``task_get_visible`` (out of scope is 404, nothing
changes), answers htmx with the task's card re-rendered in place, and anything else with
a redirect back to the page it came from, so the forms work without JavaScript too.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from playbooks.forms import NoteForm, ReassignForm, SnoozeForm, form_errors
from playbooks.models import Task
from playbooks.selectors import (
    CARD_RELATED,
    QUEUE_SECTIONS,
    QueueCursor,
    account_get_for_work,
    account_timeline,
    task_assignees_for,
    task_get_visible,
    task_queue,
    team_overview,
)
from playbooks.services import (
    PlaybookError,
    note_add,
    task_complete,
    task_reassign,
    task_snooze,
)


def _queue_cursors(request: AuthenticatedHttpRequest) -> dict[str, QueueCursor]:
    """The sections' cursors in the query string (``?overdue=…``); ValueError naming the
    parameter for one that is not a cursor."""
    cursors = {}
    for key, _ in QUEUE_SECTIONS:
        values = request.GET.getlist(key)
        if not values:
            continue
        if len(values) > 1:
            raise ValueError(f"Parameter {key!r}: give it once, not {len(values)} times.")
        try:
            cursors[key] = QueueCursor.parse(values[0])
        except ValueError as exc:
            raise ValueError(f"Parameter {key!r}: {exc}") from None
    return cursors


@login_required
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My queue, each section a window of its tasks with its total. A section's “Show
    more” is a plain link to the page with that section's next window (``?overdue=
    <cursor>``); with htmx it fetches just those rows and puts them under the ones shown."""
    today = timezone.localdate()
    try:
        cursors = _queue_cursors(request)
    except ValueError as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    # htmx asks for the next rows of one section; a history restore needs the whole page.
    more = None
    if request.htmx and not request.htmx.history_restore_request and len(cursors) == 1:
        (more,) = cursors
    tasks = task_queue(user=request.user, today=today, after=cursors, only=more)
    context = {
        "queue": tasks,
        "people": list(task_assignees_for(user=request.user)),
        "today": today,
        "next_url": request.get_full_path(),
    }
    if more is not None:
        context["section"] = tasks.section(more)
        context["appended"] = True
        response = render(request, "playbooks/queue.html#rows", context)
    else:
        response = render(request, "playbooks/queue.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def team(request: AuthenticatedHttpRequest) -> HttpResponse:
    # The team page is for managers and admins; to anyone else it does not exist.
    if not (request.user.is_manager or request.user.is_admin):
        raise Http404("No such page.")
    overview = team_overview(user=request.user, today=timezone.localdate())
    return render(request, "playbooks/team.html", {"overview": overview})


def _next_url(request: HttpRequest) -> str:
    """Where a plain (non-htmx) form goes back to: the page it was on, if it is ours."""
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("playbooks:queue")


def _task_answer(
    request: AuthenticatedHttpRequest,
    task: Task,
    *,
    notice: str = "",
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
) -> HttpResponse:
    """The task's card for htmx (with the errors or the notice), a redirect otherwise."""
    if not request.htmx:
        if errors:
            for field_errors in errors.values():
                for message in field_errors:
                    messages.error(request, f"{task.title}: {message}")
        elif notice:
            messages.success(request, notice)
        return redirect(_next_url(request))
    context = {
        "task": task,
        "people": list(task_assignees_for(user=request.user)),
        "today": timezone.localdate(),
        "next_url": _next_url(request),
        "notice": notice,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "playbooks/task.html#task", context)


def _visible_task(request: AuthenticatedHttpRequest, pk: int) -> Task:
    return task_get_visible(
        user=request.user, pk=pk, queryset=Task.objects.select_related(*CARD_RELATED)
    )


def _error(exc: PlaybookError) -> dict[str, list[str]]:
    return {exc.field or "status": [exc.message]}


@require_POST
@login_required
def complete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    try:
        task = task_complete(task=task, by=request.user, now=timezone.now())
    except PlaybookError as exc:
        return _task_answer(request, task, errors=_error(exc))
    return _task_answer(request, task, notice=f"Done: {task.title}.")


@require_POST
@login_required
def snooze(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    form = SnoozeForm(request.POST, today=timezone.localdate())
    values = {"until": request.POST.get("until", "")}
    if not form.is_valid():
        return _task_answer(request, task, errors=form_errors(form), values=values)
    until = form.cleaned_data["until"]
    try:
        task = task_snooze(task=task, until=until, by=request.user, now=timezone.now())
    except PlaybookError as exc:
        return _task_answer(request, task, errors=_error(exc), values=values)
    return _task_answer(request, task, notice=f"Snoozed until {until:%d %b %Y}.")


@require_POST
@login_required
def reassign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    form = ReassignForm(request.POST, people=task_assignees_for(user=request.user))
    if not form.is_valid():
        return _task_answer(request, task, errors=form_errors(form))
    to = form.cleaned_data["assignee"]
    try:
        task = task_reassign(task=task, to=to, by=request.user, now=timezone.now())
    except PlaybookError as exc:
        return _task_answer(request, task, errors=_error(exc))
    return _task_answer(request, task, notice=f"Given to {to}.")


@require_POST
@login_required
def task_note(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    form = NoteForm(request.POST)
    values = {"body": request.POST.get("body", "")}
    if not form.is_valid():
        return _task_answer(request, task, errors=form_errors(form), values=values)
    try:
        note_add(
            account=task.account,
            task=task,
            author=request.user,
            body=form.cleaned_data["body"],
            now=timezone.now(),
        )
    except PlaybookError as exc:
        return _task_answer(request, task, errors=_error(exc), values=values)
    return _task_answer(request, task, notice="Note added.")


@require_POST
@login_required
def account_note(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A note on the account page: the timeline re-renders with the note at the top."""
    account, _ = account_get_for_work(user=request.user, pk=pk)
    form = NoteForm(request.POST)
    notice = ""
    if form.is_valid():
        try:
            note_add(
                account=account,
                author=request.user,
                body=form.cleaned_data["body"],
                now=timezone.now(),
            )
        except PlaybookError as exc:
            form.add_error("body", exc.message)
        else:
            form = NoteForm()
            notice = "Note added."
    if not request.htmx:
        if notice:
            messages.success(request, notice)
        else:
            for message in form.errors.get("body", []):
                messages.error(request, f"Note not added: {message}")
        return redirect(account)
    context = {
        "account": account,
        "timeline": account_timeline(account=account),
        "note_form": form,
        "timeline_notice": notice,
    }
    return render(request, "playbooks/account.html#timeline", context)
