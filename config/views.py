"""Site-wide views: error pages that say what happened and nothing else (no paths, no
settings, no trace; as JSON in the API's error shape under /api/), the interactive API
docs page and the favicon redirect."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from drf_spectacular.views import SpectacularSwaggerSplitView

from config.errors import error_body


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):  # an API client gets the API's error shape, never a page
        return JsonResponse(error_body(code="not_found", message="No such endpoint."), status=404)
    return HttpResponse(render_to_string("404.html", request=request), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body(code="server_error", message="Something went wrong on our side."),
            status=500,
        )
    # Rendered without the request context: whatever broke may be in a context processor.
    return HttpResponse(render_to_string("500.html"), status=500)


# Swagger UI from the drf-spectacular-sidecar package (never a CDN). The "split" view
# serves its start-up script as a file of its own, and our template moves the page's
# inline style to a file, so the site's CSP (script-src and style-src 'self') holds here.
api_docs = SpectacularSwaggerSplitView.as_view(
    url_name="api-schema", template_name="api/swagger_ui.html"
)


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Browsers ask for /favicon.ico on their own (error pages, feed readers, bookmarks).
    # Not permanent: the static file's hashed name changes with each release.
    return HttpResponseRedirect(static("img/favicon.svg"))
