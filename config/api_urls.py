"""/api/v1/: every app's API routes, mounted in one place (config/urls.py) under the
"api" namespace. Each app lists its own in ``<app>/api_urls.py``; they are included
by name, so the wiring package imports no app."""

from __future__ import annotations

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("contacts.api_urls")),
    path("", include("renewals.api_urls")),
    path("", include("scoring.api_urls")),
    path("", include("playbooks.api_urls")),
]
