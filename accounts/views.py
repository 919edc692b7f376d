"""Pages for the account book: home, the account list (with CSV export) and one account."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.filters import AccountFilter
from accounts.models import Account
from accounts.selectors import account_get_visible, accounts_visible_to, owners_visible_to

CSV_COLUMNS = [
    ("external_id", "External id"),
    ("name", "Name"),
    ("domain", "Domain"),
    ("owner", "Owner"),
    ("segment", "Segment"),
    ("plan", "Plan"),
    ("lifecycle_stage", "Lifecycle stage"),
    ("arr", "ARR"),
    ("contract_start", "Contract start"),
    ("renewal_date", "Renewal date"),
    ("churned_at", "Churned at"),
]


def _account_filter(request: HttpRequest) -> AccountFilter:
    user = request.user
    queryset = accounts_visible_to(user=user).select_related("owner")
    return AccountFilter(
        request.GET or None, queryset=queryset, owners=owners_visible_to(user=user)
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    accounts = accounts_visible_to(user=request.user)
    today = timezone.localdate()
    totals = accounts.aggregate(count=Count("pk"), arr=Sum("arr"))
    by_segment = (
        accounts.values("segment").annotate(count=Count("pk"), arr=Sum("arr")).order_by("segment")
    )
    renewals = (
        accounts.filter(
            renewal_date__gte=today, renewal_date__lte=today + timezone.timedelta(days=90)
        )
        .select_related("owner")
        .order_by("renewal_date")[:10]
    )
    return render(
        request,
        "accounts/home.html",
        {"totals": totals, "by_segment": by_segment, "renewals": renewals},
    )


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    account_filter = _account_filter(request)
    paginator = Paginator(account_filter.qs, settings.VITALS_ACCOUNTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": account_filter, "page": page, "query": query.urlencode()}
    template = "accounts/list.html#results" if request.htmx else "accounts/list.html"
    return render(request, template, context)


@login_required
def account_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered list as CSV, streamed so a large book never sits in memory at once."""
    accounts = _account_filter(request).qs

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow([label for _, label in CSV_COLUMNS])
        for account in accounts.iterator(chunk_size=2000):
            yield writer.writerow([_csv_value(account, field) for field, _ in CSV_COLUMNS])

    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="accounts-{stamp}.csv"'
    return response


def _csv_value(account, field: str) -> str:
    if field == "owner":
        return account.owner.username if account.owner else ""
    value = getattr(account, field)
    return "" if value is None else str(value)


@login_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get_visible(
        user=request.user, pk=pk, queryset=Account.objects.select_related("owner")
    )
    return render(request, "accounts/detail.html", {"account": account})
