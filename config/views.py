"""Site-wide views: error pages that say what happened and nothing else (no paths,
no settings, no trace), and the favicon redirect."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.templatetags.static import static


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return HttpResponse(render_to_string("404.html", request=request), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: whatever broke may be in a context processor.
    return HttpResponse(render_to_string("500.html"), status=500)


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Browsers ask for /favicon.ico on their own (error pages, feed readers, bookmarks).
    # Not permanent: the static file's hashed name changes with each release.
    return HttpResponseRedirect(static("img/favicon.svg"))
