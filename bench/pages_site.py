"""The site the page benchmark serves: the product's URLs, plus the yardstick.

``/bench/minimal/`` is the smallest Django view over the same data: 50 accounts of the
book in name order, read through the (name, id) index, rendered by a template with a
link per row, behind the same middleware and login as every page. The product's pages
are measured against it in the same run (bench/pages.py).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from accounts.models import Account
from config.urls import urlpatterns as product_urlpatterns

_TEMPLATE = engines["django"].from_string(
    "<!doctype html><title>Accounts</title><ul>"
    "{% for a in accounts %}<li><a href='/accounts/{{ a.pk }}/'>{{ a.name }}</a>"
    " {{ a.arr }}</li>{% endfor %}</ul>"
)


@login_required
def minimal(request: HttpRequest) -> HttpResponse:
    accounts = Account.objects.order_by("name", "id").only("name", "arr")[:50]
    return HttpResponse(_TEMPLATE.render({"accounts": accounts}, request))


urlpatterns = [path("bench/minimal/", minimal), *product_urlpatterns]
