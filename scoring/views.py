"""Account-page actions of the scoring app: record CSM sentiment, recompute now.

Both answer htmx with the refreshed health panel and anything else with a redirect
back to the account page, so they work as plain forms too.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import account_get_visible
from scoring.context import account_health_context
from scoring.forms import SentimentForm
from scoring.services import recompute_now, sentiment_record


@require_POST
@login_required
def record_sentiment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = account_get_visible(user=request.user, pk=pk)
    form = SentimentForm(request.POST)
    if form.is_valid():
        sentiment_record(
            account=account,
            author=request.user,
            value=form.cleaned_data["value"],
            note=form.cleaned_data["note"],
        )
        recompute_now(account=account, requested_by=request.user)
        form = SentimentForm()
        notice = "Sentiment recorded and the score recomputed."
    else:
        notice = ""
    if not request.htmx:
        if notice:
            messages.success(request, notice)
        return redirect(account)
    context = account_health_context(account=account, sentiment_form=form, notice=notice)
    return render(request, "scoring/account_health.html#health", context)


@require_POST
@login_required
def recompute(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = account_get_visible(user=request.user, pk=pk)
    run = recompute_now(account=account, requested_by=request.user)
    notice = (
        "Score recomputed." if run.accounts_scored else "Nothing to score: no active model applies."
    )
    if not request.htmx:
        messages.success(request, notice)
        return redirect(account)
    context = account_health_context(account=account, notice=notice)
    return render(request, "scoring/account_health.html#health", context)
