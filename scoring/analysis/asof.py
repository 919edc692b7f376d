"""Scoring as of a past moment: which model version was active then, and one account's
score as it stood, through the recompute's own SQL with time as a parameter
(``scoring.analysis.preview.score_rows_as_of``): only signals before the moment, roll-up windows
ending there. Nothing is written. A date ``D`` means the moment ``D`` begins in the
site's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import is_customer
from scoring.analysis.preview import score_rows_as_of
from scoring.applicability import ModelFilter, choose
from scoring.errors import ScoringError
from scoring.models import Band, HealthScore, RetentionPolicy, ScoringModel, look_back_days
from scoring.selectors import BreakdownRow, score_breakdown
from scoring.services.history import signals_removed_before

# --- Dates and versions ----------------------------------------------------------------


def as_of_moment(day: dt.date) -> dt.datetime:
    """The moment ``day`` begins in the site's time zone: scoring "as of" a date sees the
    signals before that date."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def scoring_model_active_at(*, key: str, at: dt.datetime) -> ScoringModel | None:
    """The version of ``key`` that was active at ``at`` (activated on or before it and
    not retired by then), or None."""
    return (
        ScoringModel.objects.filter(key=key, activated_at__lte=at)
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=at))
        .exclude(status=ScoringModel.Status.DRAFT)
        .order_by("-activated_at", "-version")
        .first()
    )


_MODEL_REF = re.compile(r"^(?P<key>[-a-zA-Z0-9_]+)(?::(?P<version>\d+))?$")


def scoring_model_resolve(*, ref: str) -> ScoringModel:
    """A model version from ``key`` (its active version), ``key:version`` or an id."""
    ref = ref.strip()
    if ref.isdigit():
        model = ScoringModel.objects.filter(pk=int(ref)).first()
        if model is None:
            raise ScoringError(f"No scoring model version has id {ref}.")
        return model
    match = _MODEL_REF.match(ref)
    if not match:
        raise ScoringError(f"{ref!r} is not a model: give a key, key:version or an id.")
    key, version = match["key"], match["version"]
    versions = ScoringModel.objects.filter(key=key)
    if not versions.exists():
        known = ", ".join(
            ScoringModel.objects.order_by("key").values_list("key", flat=True).distinct()
        )
        raise ScoringError(f"No scoring model has the key {key!r} (keys: {known or 'none'}).")
    if version is not None:
        model = versions.filter(version=int(version)).first()
        if model is None:
            numbers = ", ".join(
                str(v) for v in versions.order_by("version").values_list("version", flat=True)
            )
            raise ScoringError(f"{key} has no version {version} (versions: {numbers}).")
        return model
    model = versions.filter(status=ScoringModel.Status.ACTIVE).first()
    if model is None:
        raise ScoringError(
            f"{key} has no active version: name one as {key}:VERSION "
            f"(latest: {versions.order_by('-version').values_list('version', flat=True).first()})."
        )
    return model


# --- What the retention policy left -----------------------------------------------------


def model_look_back_days(model: ScoringModel) -> int:
    return max([look_back_days(c.rollup, c.window_days) for c in model.components.all()] or [0])


def compacted_dates(*, model: ScoringModel, dates: list[dt.date]) -> tuple[list[dt.date], str]:
    """The dates of ``dates`` that ``model`` can no longer score exactly because the
    retention policy removed raw signals its roll-up windows would read, and a message
    that names them and the policy ("" when there are none). Latest-value and
    days-since roll-ups stay exact after the cutoff: each account's last signal before it
    is kept (``scoring.services.history``)."""
    removed = signals_removed_before()
    if removed is None:
        return [], ""
    days = model_look_back_days(model)
    earliest = removed + dt.timedelta(days=days)
    lost = sorted(d for d in dates if as_of_moment(d) < earliest)
    if not lost:
        return [], ""
    policy = RetentionPolicy.current()
    first = timezone.localtime(earliest).date()
    if timezone.localtime(earliest).time() != dt.time.min:
        first += dt.timedelta(days=1)
    message = (
        f"Raw signals before {timezone.localtime(removed):%Y-%m-%d} were removed by the "
        f"retention policy (signals are kept {policy.signals_margin_days} days beyond the "
        f"longest roll-up window): {', '.join(f'{d:%Y-%m-%d}' for d in lost)} can no longer "
        f"be scored exactly by {model}, which looks back {days} days. The earliest date "
        f"that can is {first:%Y-%m-%d}."
    )
    return lost, message


# --- One account as of a date ------------------------------------------------------------


@dataclass(frozen=True)
class AccountAsOf:
    account: Account
    as_of: dt.datetime
    model: ScoringModel
    score: float | None
    band: Band | None
    completeness: float
    breakdown: list[BreakdownRow]


def account_score_as_of(
    *, account: Account, as_of: dt.datetime, model: ScoringModel | None = None
) -> AccountAsOf:
    """Score ``account`` as it stood at ``as_of``: only signals before it, with ``model``
    or else the version that scored it then (the most specific version active at
    ``as_of`` whose filter matches the account, the older one on a tie, as a run chooses:
    ``scoring.applicability``).
    """
    if not is_customer(account.churned_at, on=as_of.date()):
        raise ScoringError(
            f"{account} had churned on {account.churned_at:%Y-%m-%d}, before {as_of:%Y-%m-%d}."
        )
    if model is None:
        keys = ScoringModel.objects.exclude(activated_at=None).values_list("key", flat=True)
        active = {
            m.pk: m
            for key in sorted(set(keys))
            if (m := scoring_model_active_at(key=key, at=as_of)) is not None
        }
        chosen = choose([ModelFilter.of(m) for m in active.values()], account)
        if chosen is None:
            raise ScoringError(
                f"No scoring model that applies to {account} was active on {as_of:%Y-%m-%d %H:%M}: "
                "choose a model version."
            )
        model = active[chosen]
    lost, message = compacted_dates(model=model, dates=[timezone.localtime(as_of).date()])
    if lost:
        raise ScoringError(message)
    rows = score_rows_as_of(model=model, account_ids=[account.pk], as_of=as_of)
    _, score, band_id, completeness, breakdown = rows[0]
    scored = HealthScore(account=account, model=model, score=score, breakdown=breakdown)
    return AccountAsOf(
        account=account,
        as_of=as_of,
        model=model,
        score=score,
        band=Band.objects.filter(pk=band_id).first() if band_id else None,
        completeness=completeness,
        breakdown=score_breakdown(health_score=scored),
    )
