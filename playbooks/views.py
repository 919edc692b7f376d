"""Task pages: my queue (/tasks/), the team page (/team/), and the task and note actions
of the queue and the account page.

Every action finds its task through ``task_get_visible`` (out of scope is 404, nothing
changes), answers htmx with the task's card re-rendered in place, and anything else with
a redirect back to the page it came from, so the forms work without JavaScript too.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account
from accounts.selectors import accounts_visible_to
from playbooks.context import account_tasks_context
from playbooks.export import tasks_csv_response
from playbooks.forms import (
    NoteForm,
    QueueFilterForm,
    ReassignForm,
    SnoozeForm,
    TaskForm,
    form_errors,
)
from playbooks.models import Task
from playbooks.selectors import (
    CARD_RELATED,
    QUEUE_SECTIONS,
    DoneCursor,
    QueueCursor,
    QueueFilters,
    account_get_for_work,
    account_timeline,
    done_tasks,
    queue_person_for,
    queue_tasks,
    task_assignees_for,
    task_counts,
    task_get_visible,
    task_queue,
    tasks_done_window,
    team_overview,
)
from playbooks.services import (
    PlaybookError,
    note_add,
    task_complete,
    task_create_manual,
    task_reassign,
    task_snooze,
)
from renewals.selectors import retention_figures
from renewals.services import months_after


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


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(f"{message}\n", content_type="text/plain; charset=utf-8")


def _person(request: AuthenticatedHttpRequest):
    """Whose queue the page shows: ``?person=<username>`` (a manager opens a team
    member's, an admin anyone's; 404 otherwise), else the person's own."""
    username = request.GET.get("person")
    if not username:
        return request.user
    return queue_person_for(user=request.user, username=username)


def _queue_filters(query: QueryDict) -> tuple[QueueFilterForm, QueueFilters]:
    """The queue's filters in ``query`` (``person`` is not one); ValueError naming each
    bad one."""
    query = query.copy()
    query.pop("person", None)
    form = QueueFilterForm(query)
    if not form.is_valid():
        raise ValueError(
            "; ".join(f"Parameter {k!r}: {' '.join(v)}" for k, v in form_errors(form).items())
        )
    return form, QueueFilters(**form.active())


def _encode(values: dict[str, str]) -> str:
    """The filters in use as a query string: the links of a filtered queue carry it."""
    query = QueryDict(mutable=True)
    query.update(values)
    return query.urlencode()


def _queue_context(
    request: AuthenticatedHttpRequest, form: QueueFilterForm, filters: QueueFilters, person
) -> dict:
    """What the queue and the done view share: the filters (and whose page it is) for
    their links, whom tasks may go to."""
    user = request.user
    values = form.active()
    if person != user:
        values = {**values, "person": person.get_username()}
    return {
        "people": list(task_assignees_for(user=user)),
        "today": timezone.localdate(),
        "next_url": request.get_full_path(),
        "filter_form": form,
        "filters": filters,
        "filter_query": _encode(values),
        "person": person,
        "own": person == user,
    }


@login_required
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My queue, each section a window of its tasks with its total, narrowed by the
    filters in the query string. A section's “Show more” is a plain link to the page with
    that section's next window (``?overdue=<cursor>``); with htmx it fetches just those
    rows and puts them under the ones shown."""
    today = timezone.localdate()
    person = _person(request)
    try:
        cursors = _queue_cursors(request)
        form, filters = _queue_filters(request.GET)
    except ValueError as exc:
        return _bad_request(str(exc))
    # htmx asks for the next rows of one section; a history restore needs the whole page.
    more = None
    if request.htmx and not request.htmx.history_restore_request and len(cursors) == 1:
        (more,) = cursors
    tasks = task_queue(user=person, today=today, after=cursors, only=more, filters=filters)
    context = {**_queue_context(request, form, filters, person), "queue": tasks}
    if more is not None:
        context["section"] = tasks.section(more)
        context["appended"] = True
        response = render(request, "playbooks/queue.html#rows", context)
    else:
        context["task_form"] = _queue_task_form(request)
        response = render(request, "playbooks/queue.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def done(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What I finished, newest first, a window at a time (“Show more” as in the queue);
    a manager's team member's too (``?person=``)."""
    today = timezone.localdate()
    person = _person(request)
    try:
        form, filters = _queue_filters(request.GET)
        after = DoneCursor.parse(request.GET["after"]) if request.GET.get("after") else None
    except ValueError as exc:
        return _bad_request(str(exc))
    window = tasks_done_window(user=person, today=today, filters=filters, after=after)
    context = {**_queue_context(request, form, filters, person), "done": window}
    appended = bool(after and request.htmx and not request.htmx.history_restore_request)
    template = "playbooks/done.html#rows" if appended else "playbooks/done.html"
    response = render(request, template, {**context, "appended": appended})
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def export(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """My queue (``?view=done``: what I finished) as CSV, with the page's filters; a
    team member's for a manager (``?person=``)."""
    today = timezone.localdate()
    person = _person(request)
    view = request.GET.get("view", "open")
    if view not in ("open", "done"):
        return _bad_request(f"Parameter 'view': {view!r} is not open or done.")
    query = request.GET.copy()
    query.pop("view", None)
    try:
        _, filters = _queue_filters(query)
    except ValueError as exc:
        return _bad_request(str(exc))
    pick = queue_tasks if view == "open" else done_tasks
    tasks = pick(user=person, today=today, filters=filters)
    return tasks_csv_response(tasks, today=today, name="tasks" if view == "open" else "tasks-done")


@login_required
def team(request: AuthenticatedHttpRequest) -> HttpResponse:
    # The team page is for managers and admins; to anyone else it does not exist.
    if not (request.user.is_manager or request.user.is_admin):
        raise Http404("No such page.")
    today = timezone.localdate()
    overview = team_overview(user=request.user, today=today)
    # Retention of the last twelve months over the manager's scope, per CSM.
    retention = retention_figures(
        start=months_after(today, -12),
        end=today + dt.timedelta(days=1),
        by="owner",
        user=request.user,
    )
    return render(request, "playbooks/team.html", {"overview": overview, "retention": retention})


def _next_url(request: HttpRequest) -> str:
    """Where a plain (non-htmx) form goes back to: the page it was on, if it is ours."""
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("playbooks:queue")


# --- Counts shown on the page an action came from, updated in place ---------------------------


def _page_counts(request: AuthenticatedHttpRequest) -> str:
    """The task counts of the page an htmx action came from (``HX-Current-URL``), as
    out-of-band swaps: the navigation's badge everywhere; the section counts of the queue
    (with that page's filters); the home page's overdue and due-today tiles."""
    user = request.user
    today = timezone.localdate()
    counts = task_counts(user=user, today=today)
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    context: dict = {"counts": counts, "tasks_due": counts["overdue"] + counts["today"]}
    if current.path == reverse("playbooks:queue"):
        try:
            _, filters = _queue_filters(QueryDict(current.query))
        except ValueError:
            filters = QueueFilters()
        sections = task_counts(user=user, today=today, filters=filters) if filters else counts
        context["sections"] = [(key, label, sections[key]) for key, label in QUEUE_SECTIONS]
        context["queue_total"] = sum(sections.values())
    elif current.path == reverse("home"):
        context["home"] = True
    return render(request, "playbooks/counts.html", context).content.decode()


def _with_counts(request: AuthenticatedHttpRequest, response: HttpResponse) -> HttpResponse:
    response.content = response.content + _page_counts(request).encode()
    return response


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
    return _with_counts(request, render(request, "playbooks/task.html#task", context))


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


# --- Tasks made by hand ---------------------------------------------------------------------


def _queue_task_form(request: AuthenticatedHttpRequest, data: QueryDict | None = None) -> TaskForm:
    user = request.user
    return TaskForm(
        data, people=task_assignees_for(user=user), accounts=accounts_visible_to(user=user)
    )


def _create(request: AuthenticatedHttpRequest, form: TaskForm, account) -> Task | None:
    """The task the valid ``form`` describes, on ``account``; None with the service's
    refusal put on the form beside its field."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return task_create_manual(
            account=account,
            title=data["title"],
            description=data["description"],
            due_date=data["due_date"],
            priority=data["priority"],
            assignee=data["assignee"],
            created_by=request.user,
            now=timezone.now(),
        )
    except PlaybookError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


def _created_notice(task: Task) -> str:
    return (
        f"Added “{task.title}” on {task.account.name}, due {task.due_date:%d %b %Y}, "
        f"for {task.assignee or 'nobody'}."
    )


def _form_messages(request: HttpRequest, form: TaskForm) -> None:
    for name, errors in form_errors(form).items():
        label = form.fields[name].label if name in form.fields else "Task"
        for message in errors:
            messages.error(request, f"Task not added — {label}: {message}")


@require_POST
@login_required
def task_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A task from the queue, on an account the person names (one of theirs)."""
    form = _queue_task_form(request, request.POST)
    task = _create(request, form, form.cleaned_data.get("account") if form.is_valid() else None)
    if not request.htmx:
        if task is None:
            _form_messages(request, form)
        else:
            messages.success(request, _created_notice(task))
        return redirect(_next_url(request))
    context = {
        "task_form": form if task is None else _queue_task_form(request),
        "people": list(task_assignees_for(user=request.user)),
        "created": task,
        "notice": _created_notice(task) if task else "",
        "next_url": _next_url(request),
    }
    return _with_counts(request, render(request, "playbooks/queue.html#new_task", context))


@require_POST
@login_required
def account_task_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A task from the account page: the page's tasks re-render with it among them. Only
    on an account in the person's scope (work given to them opens its page, but does not
    make it theirs to plan)."""
    account, in_scope = account_get_for_work(user=request.user, pk=pk)
    if not in_scope:
        raise Http404("No such account.")
    form = TaskForm(request.POST, people=task_assignees_for(user=request.user))
    task = _create(request, form, account)
    if not request.htmx:
        if task is None:
            _form_messages(request, form)
        else:
            messages.success(request, _created_notice(task))
        return redirect(account)
    context = {
        **account_tasks_context(
            account=account,
            user=request.user,
            today=timezone.localdate(),
            task_form=form if task is None else None,
        ),
        "in_scope": True,
        "tasks_notice": _created_notice(task) if task else "",
        "next_url": account.get_absolute_url(),
    }
    return _with_counts(request, render(request, "playbooks/account.html#tasks", context))


@require_POST
@login_required
def account_note(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A note on the account page: the timeline re-renders with the note at the top."""
    account, in_scope = account_get_for_work(user=request.user, pk=pk)
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
    return _timeline(request, account, in_scope=in_scope, form=form, notice=notice)


def _timeline(
    request: AuthenticatedHttpRequest,
    account: Account,
    *,
    in_scope: bool,
    form: NoteForm | None = None,
    notice: str = "",
) -> HttpResponse:
    context = {
        "account": account,
        "in_scope": in_scope,
        "timeline": account_timeline(account=account),
        "note_form": form or NoteForm(),
        "timeline_notice": notice,
    }
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "playbooks/account.html#timeline" if fragment else "playbooks/timeline.html"
    return render(request, template, context)


@login_required
def account_timeline_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The account page's timeline, loaded after the page (or a page of its own without
    JavaScript): everyone who may open the account reads it."""
    account, in_scope = account_get_for_work(user=request.user, pk=pk)
    return _timeline(request, account, in_scope=in_scope)
