"""Template context for the scoring parts of pages, shared by the account page and the
scoring actions that refresh it in place."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from accounts.models import Account
from scoring import charts
from scoring.forms import SentimentForm
from scoring.models import AccountHealth, Band, CsmSentiment
from scoring.selectors import (
    delta_summary,
    grade_for,
    latest_signals,
    score_breakdown,
    score_history,
)


def account_health_context(
    *,
    account: Account,
    sentiment_form: SentimentForm | None = None,
    notice: str = "",
    days: int = 90,
) -> dict:
    health = (
        AccountHealth.objects.select_related("band", "model", "health_score__model")
        .filter(account=account)
        .first()
    )
    now = timezone.now()
    history = list(score_history(account=account, days=days, until=now))
    series = [
        (h.computed_at, h.score, h.band.color if h.band else "#94a3b8")
        for h in history
        if h.score is not None
    ]
    markers = []
    for before, after in itertools.pairwise(history):
        if before.model_id != after.model_id:
            markers.append((after.computed_at, f"{after.model}"))
    bands = []
    if health:
        bands = [(b.lower, b.name, b.color) for b in Band.objects.filter(model_id=health.model_id)]
    chart = charts.line_chart(
        series=series, start=now - dt.timedelta(days=days), end=now, bands=bands, markers=markers
    )
    return {
        "account": account,
        "health": health,
        "breakdown": score_breakdown(health_score=health.health_score) if health else [],
        "delta_summary": delta_summary(health_score=health.health_score) if health else "",
        # Letter grades read 0–100 scores; points models have no such scale.
        "grade": grade_for(score=health.score)
        if health and health.model.kind == "weighted"
        else None,
        "history_chart": chart,
        "signals": latest_signals(account=account),
        "sentiments": CsmSentiment.objects.filter(account=account).select_related("author")[:5],
        "sentiment_form": sentiment_form or SentimentForm(),
        "notice": notice,
    }


def book_context(*, accounts, days: int = 7) -> dict:
    """The health part of "my book": bands with counts and ARR, ARR at risk, the score
    distribution and the band changes of the last ``days`` days."""
    from scoring.models import ScoreEvent
    from scoring.selectors import account_events, arr_at_risk, book_by_band, score_distribution

    slices = book_by_band(accounts=accounts)
    distribution = score_distribution(accounts=accounts)
    # Colour each bucket like the band (of an active weighted model) its middle falls in.
    bands = list(
        Band.objects.filter(model__status="active", model__kind="weighted", lower__isnull=False)
        .order_by("-lower")
        .values_list("lower", "color")
    )

    def colour(score: float) -> str:
        return next((color for lower, color in bands if score >= lower), "#94a3b8")

    bars = charts.bar_chart(
        buckets=[(f"{low}", count, colour(low + 5)) for low, count in distribution],
        width=480,
        height=180,
    )
    since = timezone.now() - dt.timedelta(days=days)
    return {
        "band_slices": slices,
        "band_total_accounts": sum(s.accounts for s in slices),
        "arr_at_risk": arr_at_risk(accounts=accounts),
        "distribution_bars": bars,
        "recent_changes": account_events(
            accounts=accounts, since=since, kind=ScoreEvent.Kind.BAND_CHANGED
        )[:15],
        "recent_days": days,
    }
