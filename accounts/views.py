"""Pages for the account book: home, the account list (with CSV export, saved views and
bulk actions) and one account."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from accounts.export import export_response
from accounts.filters import (
    NO_OWNER,
    UNSCORED,
    AccountFilter,
    AccountRules,
    account_list_filter,
)
from accounts.forms import BulkActionForm, SavedViewForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account, SavedView, User
from accounts.pagination import BookPaginator
from accounts.selectors import (
    accounts_selected,
    accounts_visible_to,
    customers_q,
    owners_assignable_by,
    saved_view_get_own,
    saved_views_visible_to,
    teams_of,
)
from accounts.services import (
    SavedViewInvalid,
    SelectionChanged,
    accounts_reassign,
    reassign_target_check,
    saved_view_create,
    saved_view_update,
    saved_views_delete,
)
from config.errors import DomainError
from playbooks.context import account_tasks_context
from playbooks.models import Priority
from playbooks.selectors import account_get_for_work, task_counts, tasks_due
from playbooks.services.task_ops import tasks_create_manual_bulk
from scoring.context import account_health_context, book_context
from scoring.figures import FutureChurn, accounts_seen_count, book_figures, score_figures
from scoring.hierarchy import account_group, account_with_parent
from scoring.selectors import ACCOUNT_HEALTH_RELATED, band_level, band_names
from workspace.ranking import work_on_next


def _account_filter(
    request: AuthenticatedHttpRequest, *, form_shown: bool = True, data: QueryDict | None = None
) -> AccountFilter:
    """The list's filter over the user's accounts, from the request's query string or
    ``data`` (a bulk action's ``query``). The band choices cost a query; the CSV export
    needs them only to check a band it was given."""
    user = request.user
    data = request.GET if data is None else data
    return account_list_filter(
        user=user,
        data=data or None,
        bands=band_names() if form_shown or data.get("band") else [],
    )


def _list_url(query: str) -> str:
    url = reverse("accounts:list")
    return f"{url}?{query}" if query else url


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
            "work_on_next": work_on_next(user=user, today=today, with_tasks=2),
            "today": today,
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
    if owner == NO_OWNER:  # the accounts nobody owns: few, counted
        return None
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
    # The rows that have subsidiaries are marked: a probe of the parent index per row of
    # the page, in the page's own query (a count leaves it out).
    rows = account_filter.qs.annotate(
        has_children=Exists(Account.objects.filter(parent=OuterRef("pk")))
    )
    paginator = BookPaginator(
        rows,
        settings.VITALS_ACCOUNTS_PER_PAGE,
        known_count=_known_count(request, account_filter),
        in_parts=True,
    )
    page = paginator.get_page(request.GET.get("page"))
    user = request.user
    valid = not account_filter.is_bound or account_filter.form.is_valid()
    # The filters as a saved view stores them: the view they match is marked as open.
    current = account_filter.normal_query() if valid else None
    views = list(saved_views_visible_to(user=user))
    context = {
        "filter": account_filter,
        "page": page,
        "query": _filter_query(request),
        "views": views,
        "current_view": next((view for view in views if view.query == current), None),
        "save_form": SavedViewForm(teams=teams_of(user=user), initial={"query": current or ""}),
        "can_reassign": user.is_admin or user.is_manager,
    }
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
    # The latest health comes with the account, in the same query, and so do its parent
    # (with whether the person may open it) and whether it has subsidiaries.
    parent, parent_visible = account_with_parent(user=request.user)
    account, in_scope = account_get_for_work(
        user=request.user,
        pk=pk,
        queryset=Account.objects.select_related("owner", parent, *ACCOUNT_HEALTH_RELATED).annotate(
            **parent_visible
        ),
    )
    today = timezone.localdate()
    return render(
        request,
        "accounts/detail.html",
        {
            **account_health_context(account=account, in_scope=in_scope),
            **account_tasks_context(account=account, user=request.user, today=today),
            # The subsidiaries: one query more, for an account that has any.
            "group": account_group(account=account, user=request.user, today=today),
            "next_url": request.get_full_path(),
        },
    )


# --- Saved views ---------------------------------------------------------------------------


def _saved_views_page(
    request: AuthenticatedHttpRequest, *, new_form: SavedViewForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    views = list(saved_views_visible_to(user=user))
    # One read of the teams for every view's "share with" choice.
    teams = list(teams_of(user=user))
    own = [view for view in views if view.owner_id == user.pk]
    shared = [view for view in views if view.owner_id != user.pk]
    return render(
        request,
        "accounts/saved_views.html",
        {"own": own, "shared": shared, "teams": teams, "new_form": new_form},
        status=status,
    )


@login_required
def saved_views(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The views a person can open: their own (to rename, re-share or delete) and
    those shared with their teams."""
    return _saved_views_page(request)


@login_required
@require_POST
def saved_view_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Save the list's current filters and sort (the form's ``query``) under a name;
    then open the view, whose link is the list's."""
    form = SavedViewForm(request.POST, teams=teams_of(user=request.user))
    if form.is_valid():
        try:
            view = saved_view_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                team=form.cleaned_data["team"],
                bands=band_names(),
                now=timezone.now(),
            )
        except SavedViewInvalid as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
            return redirect(view.get_absolute_url())
    return _saved_views_page(request, new_form=form, status=400)


@login_required
@require_POST
def saved_view_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Rename a view of one's own, or share it with another team (or with no one)."""
    view = saved_view_get_own(user=request.user, pk=pk)
    was = view.name
    form = SavedViewForm(request.POST, teams=teams_of(user=request.user))
    if form.is_valid():
        try:
            saved_view_update(
                view=view, name=form.cleaned_data["name"], team=form.cleaned_data["team"]
            )
        except SavedViewInvalid as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
            return redirect("accounts:views")
    for errors in form.errors.values():
        messages.error(
            request, f"“{was}” was not changed: {' '.join(str(error) for error in errors)}"
        )
    return redirect("accounts:views")


@login_required
@require_POST
def saved_view_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    view = saved_view_get_own(user=request.user, pk=pk)
    saved_views_delete(views=SavedView.objects.filter(pk=view.pk))
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("accounts:views")


# --- Bulk actions ----------------------------------------------------------------------------


class _SelectionUnreadable(DomainError):
    """A bulk action's filter that the list cannot read (it would list nothing)."""


def _selection(
    request: AuthenticatedHttpRequest, form: BulkActionForm
) -> tuple[QuerySet[Account], int]:
    """The accounts a bulk action acts on, in the list's order, and how many: all that
    the list's ``query`` matches, or the ids ticked (each checked to be in scope)."""
    if form.cleaned_data["all"]:
        account_filter = _account_filter(
            request, form_shown=False, data=QueryDict(form.cleaned_data["query"] or "")
        )
        if account_filter.is_bound and not account_filter.is_valid():
            raise _SelectionUnreadable(
                "The filter cannot be read: " + " ".join(account_filter.error_summary())
            )
        accounts = account_filter.qs
        return accounts, accounts.count()
    ids = form.cleaned_data["account"]
    accounts = accounts_selected(user=request.user, ids=ids).select_related("owner")
    return accounts.order_by("name", "pk"), len(set(ids))


@login_required
@require_POST
def account_bulk(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """A bulk action on the account list, in plain form posts (no JavaScript needed).

    From the list: the selection (ticked rows, or all that match the filter) and the
    action. Export answers the CSV at once. Reassigning and creating tasks ask for their
    fields, then confirm with the count ("Reassign 1,234 accounts to Bob?"), then apply
    in one transaction — refused whole if the selection no longer has the count that
    was confirmed — and go back to the list with what was done.
    """
    user = request.user
    form = BulkActionForm(
        request.POST, owners=owners_assignable_by(user=user), today=timezone.localdate()
    )
    query = request.POST.get("query", "")
    context: dict = {"form": form, "back": _list_url(query), "count": None}
    if not form.is_valid() and (set(form.errors) & {"action", "account", "all", "__all__"}):
        return render(request, "accounts/bulk.html", context, status=400)
    try:
        accounts, count = _selection(request, form)
    except DomainError as refused:
        context["refused"] = refused.message
        return render(request, "accounts/bulk.html", context, status=refused.status_code)
    context["ids"] = sorted(set(form.cleaned_data["account"]))
    action, stage = form.cleaned_data["action"], form.cleaned_data["stage"]
    if action == form.EXPORT:
        return export_response(accounts)
    context.update(
        count=count,
        sample=list(accounts.values_list("name", flat=True)[:5]),
        confirming=stage in ("review", "apply") and form.is_valid(),
    )
    if not context["confirming"]:
        return render(request, "accounts/bulk.html", context, status=400 if stage else 200)
    data = form.cleaned_data
    context["priority_label"] = Priority(data["priority"]).label if data["priority"] else ""
    try:
        if action == form.REASSIGN:
            reassign_target_check(to=data["owner"], by=user)
        if stage == "apply":
            done = _bulk_apply(form, accounts=accounts, user=user, expected=data["expected"])
            messages.success(request, done)
            return redirect(context["back"])
    except SelectionChanged as changed:
        context.update(refused=changed.message, count=changed.found)
    except DomainError as refused:
        field = next(iter(refused.fields or {}), None)
        form.add_error(field if field in form.fields else None, refused.message)
        context["confirming"] = False
        return render(request, "accounts/bulk.html", context, status=refused.status_code)
    context["expected"] = context["count"]
    return render(request, "accounts/bulk.html", context)


def _bulk_apply(
    form: BulkActionForm, *, accounts: QuerySet[Account], user: User, expected: int | None
) -> str:
    """Carry out a confirmed bulk action; returns what was done, in words."""
    data = form.cleaned_data
    now = timezone.now()
    if data["action"] == form.REASSIGN:
        changed = accounts_reassign(
            accounts=accounts, to=data["owner"], by=user, now=now, expected=expected
        )
        return f"Reassigned {changed:,} account{'' if changed == 1 else 's'} to {data['owner']}."
    with transaction.atomic():
        created = tasks_create_manual_bulk(
            accounts=accounts,
            title=data["title"],
            due_date=data["due_date"],
            priority=data["priority"],
            description=data["description"],
            created_by=user,
            now=now,
        )
        if expected is not None and created != expected:
            raise SelectionChanged(expected=expected, found=created)
    return (
        f"Created the task “{data['title']}” on {created:,} account{'' if created == 1 else 's'}."
    )
