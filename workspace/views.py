"""The workspace's pages: work on next as a view of the queue, and search everywhere
(the navigation's box and its own page)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts.http import AuthenticatedHttpRequest
from playbooks.selectors import CARD_RELATED, task_assignees_for
from workspace.ranking import work_on_next
from workspace.search import search_everywhere

# The view of the queue ranks more accounts than the home page, each with its open work.
NEXT_ACCOUNTS = 25
NEXT_TASKS_EACH = 3


@login_required
def search(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/search/?q=``: grouped results. htmx (the box as one types) gets the grouped
    list alone; a plain submit, the page."""
    results = search_everywhere(user=request.user, text=request.GET.get("q", ""))
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "workspace/search.html#results" if fragment else "workspace/search.html"
    response = render(request, template, {"results": results})
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def work_next(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/tasks/next/``: the person's accounts by priority, as on the home page but
    more of them, each with why and its open tasks as cards, acted on in place."""
    today = timezone.localdate()
    related = tuple(name for name in CARD_RELATED if not name.startswith("account"))
    ranked = work_on_next(
        user=request.user,
        today=today,
        limit=NEXT_ACCOUNTS,
        with_tasks=NEXT_TASKS_EACH,
        task_related=related,
    )
    context = {
        "ranked": ranked,
        "people": list(task_assignees_for(user=request.user)),
        "today": today,
        "next_url": request.get_full_path(),
    }
    return render(request, "workspace/next_page.html", context)
