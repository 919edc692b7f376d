"""The workspace's pages: search everywhere (the navigation's box and its own page)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from accounts.http import AuthenticatedHttpRequest
from workspace.search import search_everywhere


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
