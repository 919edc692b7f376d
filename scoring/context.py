"""Template context for the scoring parts of pages, shared by the account page and the
scoring actions that refresh it in place."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from accounts.models import AT_RISK_LEVELS, Account
from scoring import charts
from scoring.figures import BookFigures
from scoring.formatting import MINUS
from scoring.forms import SentimentForm
from scoring.models import AccountHealth, Band, CsmSentiment
from scoring.selectors import (
    account_health_get,
    delta_summary,
    grade_for,
    latest_signals,
    model_components,
    score_breakdown,
    score_history,
)


def account_health_context(
    *,
    account: Account,
    sentiment_form: SentimentForm | None = None,
    notice: str = "",
    days: int = 90,
    in_scope: bool = True,
    sentiments: list[CsmSentiment] | None = None,
) -> dict:
    """The health panel, sentiment and signals of the account page. ``account`` loaded
    with ``ACCOUNT_HEALTH_RELATED`` saves the health's query; ``sentiments``, the
    newest first (``sentiments_recent``, shared with the timeline), saves theirs."""
    health = account_health_get(account=account)
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
    breakdown, summary = [], ""
    if health:
        # One read of the model's components for both the scorecard and the summary.
        components = model_components(model_id=health.health_score.model_id)
        breakdown = score_breakdown(health_score=health.health_score, components=components)
        summary = delta_summary(
            health_score=health.health_score, labels=[c.display_label for c in components]
        )
    if sentiments is None:
        sentiments = list(
            CsmSentiment.objects.filter(account=account)
            .select_related("author")
            .order_by("-created_at", "-id")[:5]
        )
    return {
        "account": account,
        "in_scope": in_scope,
        "health": health,
        "band_state": band_state(health) if health else "",
        "breakdown": breakdown,
        "delta_summary": summary,
        # Letter grades read 0–100 scores; points models have no such scale.
        "grade": grade_for(score=health.score)
        if health and health.model.kind == "weighted"
        else None,
        "history_chart": chart,
        "signals": latest_signals(account=account),
        "sentiments": sentiments[:5],
        "sentiment_form": sentiment_form or SentimentForm(),
        "notice": notice,
    }


def band_state(health: AccountHealth) -> str:
    """What flap control is doing, in words: "Pending: entering At-risk (1 of 2
    scorings)", or why the score's band is not the account's; empty when they agree."""
    model = health.model
    # Loaded with the health (account_health_get): no query here.
    pending, raw, band = health.pending_band, health.raw_band, health.band
    if pending is not None:
        parts = [f"{health.pending_count} of {model.dwell_scorings} scorings"]
        if model.dwell_days and health.pending_since:
            days = (timezone.now() - health.pending_since).days
            parts.append(f"{min(days, model.dwell_days)} of {model.dwell_days} days")
        return f"Pending: entering {pending.name} ({', '.join(parts)})."
    if raw is not None and band is not None and raw.pk != band.pk:
        return (
            f"The score is in {raw.name}, within {model.exit_margin:g} points of "
            f"{band.name}: the account stays {band.name} (exit margin)."
        )
    if health.rebaseline:
        return f"A new baseline: the first score under {model}."
    return ""


def book_context(
    *, accounts, figures: BookFigures, buckets: dict[int, dict[int, int]], days: int = 7
) -> dict:
    """The health part of "my book": customers and ARR per risk level, ARR at risk,
    churned ARR apart, each model's score distribution on its own scale — all from the
    book's figures (``scoring.figures``: ``figures`` grouped by a key with the level,
    ``buckets`` from ``score_figures``), never an aggregate over the book — and the
    confirmed band changes of the last ``days`` days among ``accounts`` (the customers
    in the user's scope)."""
    from scoring.models import ScoreEvent
    from scoring.selectors import (
        account_events,
        book_by_level,
        churned_book,
        score_distributions,
    )

    levels = book_by_level(figures=figures)
    churned_count, churned_arr = churned_book(figures=figures)
    distributions = [
        {
            "model": d.model,
            "accounts": d.accounts,
            "bars": charts.bar_chart(
                buckets=[(_axis(b.low), b.count, b.color) for b in d.buckets],
                width=480,
                height=180,
            ),
            "buckets": d.buckets,
        }
        for d in score_distributions(buckets=buckets)
    ]
    since = timezone.now() - dt.timedelta(days=days)
    return {
        "level_slices": levels,
        "level_total_accounts": sum(s.accounts for s in levels),
        # ARR at risk is the ARR of the risky levels' slices: no second pass.
        "arr_at_risk": sum(s.arr for s in levels if s.level in AT_RISK_LEVELS),
        "churned_accounts": churned_count,
        "churned_arr": churned_arr,
        "distributions": distributions,
        "recent_changes": account_events(
            accounts=accounts, since=since, kind=ScoreEvent.Kind.BAND_CHANGED
        )[:15],
        "recent_days": days,
    }


def _axis(value: float) -> str:
    text = f"{value:g}"
    return text.replace("-", MINUS)
