"""The renewals page: the renewals coming up in the person's scope within a window
(30/60/90/120 days), those whose date passed with no outcome flagged, by owner, a page at
a time along the renewal-date index; and recording an outcome from a row (htmx swaps the
list; a plain form posts and comes back). Out of scope is 404."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account
from accounts.selectors import account_get_visible, owners_visible_to
from playbooks.selectors import account_get_for_work
from renewals.forms import OutcomeForm
from renewals.models import RenewalOutcome, RenewalReason
from renewals.selectors import (
    DEFAULT_WINDOW,
    PAGE_SIZE,
    WINDOWS,
    Position,
    account_outcomes,
    renewals_upcoming,
)
from renewals.services import OutcomeInvalid, outcome_record


@dataclass(frozen=True)
class RenewalRow:
    """A row of the page: the account, days to its renewal (negative: passed), and what
    was wrong with the outcome just posted for it."""

    account: Account
    days: int
    problem: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.days < 0

    @property
    def when(self) -> str:
        return days_phrase(self.days)


def _filters(data: QueryDict) -> tuple[int, str, Position | None]:
    """(window, owner, position) from the query string; what cannot be read falls back
    to the defaults (the owner filter answers for its own value)."""
    try:
        within = int(data.get("within", DEFAULT_WINDOW))
    except ValueError:
        within = DEFAULT_WINDOW
    if within not in WINDOWS:
        within = DEFAULT_WINDOW
    owner = data.get("owner", "")
    try:
        after = Position.parse(str(data["after"])) if data.get("after") else None
    except ValueError:
        after = None
    return within, owner, after


def _query(within: int, owner: str, after: Position | None = None) -> str:
    params = {"within": within, **({"owner": owner} if owner else {})}
    if after is not None:
        params["after"] = str(after)
    return urlencode(params)


def _list(
    request: AuthenticatedHttpRequest,
    data: QueryDict,
    *,
    notice: str = "",
    errors: dict[int, dict] | None = None,
    fragment: bool | None = None,
) -> HttpResponse:
    today = timezone.localdate()
    within, owner, after = _filters(data)
    rows = list(
        renewals_upcoming(user=request.user, today=today, within=within, owner=owner, after=after)[
            : PAGE_SIZE + 1
        ]
    )
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    shown = [
        RenewalRow(
            account=account,
            days=(account.renewal_date - today).days if account.renewal_date else 0,
            problem=(errors or {}).get(account.pk),
        )
        for account in rows
    ]
    reasons = list(RenewalReason.objects.filter(active=True).order_by("order", "name"))
    last = rows[-1] if rows else None
    next_query = (
        _query(within, owner, Position(last.renewal_date, last.pk))
        if more and last is not None and last.renewal_date is not None
        else ""
    )
    context = {
        "rows": shown,
        "within": within,
        "windows": WINDOWS,
        "owner": owner,
        "owners": owners_visible_to(user=request.user),
        "unowned": request.user.is_manager or request.user.is_admin,
        "query": _query(within, owner),
        "after": after,
        "next_query": next_query,
        "kinds": RenewalOutcome.Kind.choices,
        "reasons": reasons,
        "notice": notice,
        "today": today,
    }
    if fragment is None:
        fragment = bool(request.htmx) and not request.htmx.history_restore_request
    template = "renewals/list.html#results" if fragment else "renewals/list.html"
    return render(request, template, context)


@login_required
def renewals_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _list(request, request.GET)


@login_required
def account_outcomes_card(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The account page's card of its outcomes (loaded after the page; a page of its own
    without JavaScript), for whoever may open the account page."""
    account, _ = account_get_for_work(user=request.user, pk=pk)
    context = {"account": account, "outcomes": list(account_outcomes(account=account))}
    fragment = request.htmx and not request.htmx.history_restore_request
    return render(request, "renewals/card.html#card" if fragment else "renewals/card.html", context)


@require_POST
@login_required
def outcome_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Record an outcome for the account ``pk`` (in the person's scope, else 404), then
    the list again with the filters the form carried."""
    account = account_get_visible(user=request.user, pk=pk)
    codes = list(RenewalReason.objects.values_list("code", flat=True))
    form = OutcomeForm(request.POST, reason_codes=codes)
    problems: dict[str, list[str]] = {}
    notice = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            outcome = outcome_record(
                account=account,
                kind=data["kind"],
                renewal_date=data["renewal_date"],
                arr_after=data["arr_after"],
                reasons=data["reasons"],
                note=data["note"],
                next_renewal=data["next_renewal"],
                recorded_by=request.user,
                now=timezone.now(),
            )
        except OutcomeInvalid as exc:
            problems = dict(exc.fields or {})
        else:
            notice = f"{account.name}: {outcome.get_kind_display().lower()}" + (
                f", next renewal {outcome.next_renewal:%d %b %Y}." if outcome.next_renewal else "."
            )
    else:
        problems = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
    filters = QueryDict(mutable=True)
    for name in ("within", "owner"):
        if request.POST.get(name):
            filters[name] = request.POST[name]
    if not request.htmx:
        if notice:
            messages.success(request, notice)
        for field, messages_ in problems.items():
            for problem in messages_:
                messages.error(request, f"{account.name} — {field}: {problem}")
        return redirect(f"{reverse('renewals:list')}?{filters.urlencode()}")
    errors = {account.pk: {"fields": problems, "post": request.POST}} if problems else None
    return _list(request, filters, notice=notice, errors=errors, fragment=True)


def days_phrase(days: int) -> str:
    """ "in 12 days", "today", "12 days ago"."""
    if days == 0:
        return "today"
    unit = "day" if abs(days) == 1 else "days"
    return f"in {days} {unit}" if days > 0 else f"{-days} {unit} ago"
