"""The request a page or admin view gets, for the type checker: a signed-in user
(``login_required``, the admin site) and django-htmx's details."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """Only an annotation: Django builds the request; the decorators let no anonymous
    user through."""

    user: User
    htmx: HtmxDetails
