"""The real URLconf plus one view that fails, to see what a visitor is shown on a 500."""

from __future__ import annotations

from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as real_urlpatterns

SECRET_DETAIL = "the ledger at /srv/vitals/config/settings/base.py is on fire"


def broken_view(request):
    raise RuntimeError(SECRET_DETAIL)


urlpatterns = [*real_urlpatterns, path("broken/", broken_view)]

__all__ = ["handler404", "handler500", "urlpatterns"]
