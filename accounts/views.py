"""Pages for the account book: home, the account list (with CSV export) and one account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts.export import export_response
from accounts.filters import UNSCORED, AccountFilter, AccountRules
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account
from accounts.pagination import BookPaginator
from accounts.selectors import (
    accounts_visible_to,
    customers_q,
    owners_visible_to,
)
from playbooks.context import account_tasks_context
from playbooks.selectors import TIMELINE_LENGTH, account_get_for_work, task_counts, tasks_due
from scoring.context import account_health_context, book_context
from scoring.figures import FutureChurn, accounts_seen_count, book_figures, score_figures
from scoring.selectors import ACCOUNT_HEALTH_RELATED, band_level, band_names, sentiments_recent
from workspace.ranking import work_on_next


def _account_filter(request: AuthenticatedHttpRequest, *, form_shown: bool = True) -> AccountFilter:
    """The list's filter over the user's accounts. The band choices cost a query; the
    CSV export needs them only to check a band it was given."""
    user = request.user
    queryset = accounts_visible_to(user=user).select_related("owner", "health__band")
    return AccountFilter(
        request.GET or None,
        queryset=queryset,
        owners=owners_visible_to(user=user),
        bands=band_names() if form_shown or request.GET.get("band") else [],
    )


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    # The book is the customers: accounts that churned are counted apart (book_context).
    accounts = accounts_visible_to(user=user).filter(customers_q(on=today))
    # Counts and ARR come from the book's figures, kept by the database as accounts and
    # scores change (scoring.figures): a few rows per owner, whatever the book's size.
    future = FutureChurn.read(user=user, today=today)
    figures = book_figures(user=user, today=today, future=future)
    segment_labels = dict(Account.Segment.choices)
    by_segment = []
    for segment in sorted({segment for segment, _ in figures.customers}):
        tally = figures.total("customers", segment=segment)
        by_segment.append(
            {
                "segment": segment,
                "label": segment_labels.get(segment, segment),
                "count": tally.accounts,
                "arr": tally.arr,
            }
        )
    # The book's totals are the sum of its segments.
    totals = {
        "count": sum(row["count"] for row in by_segment),
        "arr": sum((row["arr"] for row in by_segment), Decimal(0)),
    }
    renewals = (
        accounts.filter(renewal_date__gte=today, renewal_date__lte=today + dt.timedelta(days=90))
        .select_related("owner")
        .order_by("renewal_date")[:10]
    )
    return render(
        request,
        "accounts/home.html",
        {
            "totals": totals,
            "by_segment": by_segment,
            "renewals": renewals,
            "task_counts": task_counts(user=user, today=today),
            "tasks_due": tasks_due(user=user, today=today),
            "work_on_next": work_on_next(user=user, today=today),
            **book_context(
                accounts=accounts,
                figures=figures,
                buckets=score_figures(user=user, today=today, future=future),
            ),
        },
    )


def _filter_query(request: AuthenticatedHttpRequest) -> str:
    """The filters of this request as a query string, without the page and empty fields.

    Pagination links and the CSV link carry it, so every page of a filtered list has
    a URL that can be shared or bookmarked.
    """
    query = QueryDict(mutable=True)
    for key, values in request.GET.lists():
        kept = [value for value in values if value.strip()]
        if key != "page" and kept:
            query.setlist(key, kept)
    return query.urlencode()


# The list's filters that the book's figures count: per owner, segment, level and churn.
FIGURE_FILTERS = {"owner", "segment", "level", "band", "customer"}


def _known_count(request: AuthenticatedHttpRequest, account_filter: AccountFilter) -> int | None:
    """The size of the list from the book's figures, exact without counting a large book,
    when its filters are only those the figures keep (owner, segment, risk level, a band
    that stands for one level, customer or churned) — the whole book, a level tile's
    list. None otherwise: the paginator counts, or estimates, then."""
    cleaned: dict = {}
    if account_filter.is_bound:
        if not account_filter.form.is_valid():
            return None
        cleaned = {k: v for k, v in account_filter.form.cleaned_data.items() if v and k != "sort"}
    if not set(cleaned) <= FIGURE_FILTERS:
        return None
    level = cleaned.get("level")
    if "band" in cleaned:
        band = "" if cleaned["band"].lower() == "none" else band_level(cleaned["band"])
        if band is None or (level is not None and level != (band or UNSCORED)):
            return None
        level = band or UNSCORED
    if not cleaned:
        return accounts_seen_count(user=request.user)
    owner = cleaned.get("owner")
    figures = book_figures(
        user=request.user,
        today=timezone.localdate(),
        by=("segment", "level"),
        owners=None if owner is None else [owner.pk],
    )
    match = {"segment": cleaned["segment"]} if "segment" in cleaned else {}
    which = {"active": ["customers"], "churned": ["churned"]}.get(
        cleaned.get("customer", ""), ["customers", "churned"]
    )
    if level is not None:  # a level is a customer's: churned accounts have none
        match["level"] = "" if level == UNSCORED else level
        which = [w for w in which if w == "customers"]
    return sum(figures.total(w, **match).accounts for w in which)


@login_required
def account_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    account_filter = _account_filter(request)
    paginator = BookPaginator(
        account_filter.qs,
        settings.VITALS_ACCOUNTS_PER_PAGE,
        known_count=_known_count(request, account_filter),
        in_parts=True,
    )
    page = paginator.get_page(request.GET.get("page"))
    context = {"filter": account_filter, "page": page, "query": _filter_query(request)}
    # htmx swaps in just the results; a history restore (back button after the cache
    # was evicted) asks for the same URL with HX-Request and needs the whole page.
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "accounts/list.html#results" if fragment else "accounts/list.html"
    response = render(request, template, context)
    # The same URL answers with a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


SUGGESTIONS = 10


@login_required
def account_suggest(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``<option>`` elements for a form's account box (``?account=`` what was typed, or
    ``?q=``): the first of the person's customers that the account list's search finds,
    by name, each valued by its external id."""
    text = (request.GET.get("account") or request.GET.get("q") or "").strip()
    accounts: list[Account] = []
    if text:
        found = AccountRules().filter_search(
            accounts_visible_to(user=request.user).filter(customers_q(on=timezone.localdate())),
            "q",
            text,
        )
        accounts = list(found.select_related("owner").order_by("name", "pk")[:SUGGESTIONS])
    return render(request, "accounts/suggest.html", {"accounts": accounts})


@login_required
def account_export(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered list as CSV, streamed so a large book never sits in memory at once."""
    account_filter = _account_filter(request, form_shown=False)
    if account_filter.is_bound and not account_filter.is_valid():
        message = "Cannot export: " + "; ".join(account_filter.error_summary()) + "\n"
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    # Streamed from the database (COPY on PostgreSQL): accounts/export.py.
    return export_response(account_filter.qs)


@login_required
def account_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    # Work given to someone opens its account's page for them, even outside their book.
    # The latest health comes with the account, in the same query.
    account, in_scope = account_get_for_work(
        user=request.user,
        pk=pk,
        queryset=Account.objects.select_related("owner", *ACCOUNT_HEALTH_RELATED),
    )
    # The sentiment card shows the newest few of the timeline's sentiments: one read.
    sentiments = sentiments_recent(account=account, limit=TIMELINE_LENGTH)
    return render(
        request,
        "accounts/detail.html",
        {
            **account_health_context(account=account, in_scope=in_scope, sentiments=sentiments),
            **account_tasks_context(
                account=account,
                user=request.user,
                today=timezone.localdate(),
                sentiments=sentiments,
            ),
            "next_url": request.get_full_path(),
        },
    )
