"""Preview a draft scoring model on a sample of accounts before it is activated.

Nothing is written: the preview runs the recompute's own SQL (``compiler.rollup_sql``
and ``compiler.score_select_sql``, the SELECT half of the history INSERT) inside a
transaction that is rolled back, so a preview's scores are exactly the scores the
version would store, and the latest scores it is compared with stay untouched.

Steps:

1. ``preview_accounts``: the accounts the version would score once active — matching
   its filter, not churned, and not claimed by a more specific active model of another
   key (the version replaces the active one of its own key);
2. ``preview_sample``: a random sample of them, or the first ones by id;
3. ``scoring_model_preview``: roll-up and scores for the sample, beside each account's
   latest score and band;
4. ``preview_summarise``: the band-move matrix, the average change and the biggest moves.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import QuerySet

from accounts.models import Account
from accounts.selectors import customers_q
from scoring import compiler
from scoring.models import AccountHealth, ScoringModel
from scoring.services import model_spec

PREVIEW_MAX_ACCOUNTS = 5000
NOT_SCORED = "Not scored yet"
NO_BAND = "No band"


@dataclass(frozen=True)
class PreviewRow:
    """One sampled account: its latest score and band beside the draft's."""

    account_id: int
    account_name: str
    external_id: str
    old_score: float | None
    old_band: str | None
    old_band_color: str | None
    old_model: str | None
    new_score: float | None
    new_band: str | None
    new_band_color: str | None
    completeness: float
    breakdown: list = field(default_factory=list)
    was_scored: bool = True

    @property
    def delta(self) -> float | None:
        if self.old_score is None or self.new_score is None:
            return None
        return self.new_score - self.old_score

    @property
    def from_label(self) -> str:
        if not self.was_scored:
            return NOT_SCORED
        return self.old_band or NO_BAND

    @property
    def to_label(self) -> str:
        return self.new_band or NO_BAND

    @property
    def band_moved(self) -> bool:
        # Bands compare by name, as band-change events do across model versions.
        return self.was_scored and self.from_label != self.to_label


def _filter_kwargs(model: ScoringModel) -> dict[str, str]:
    return {
        name: value
        for name, value in (
            ("segment", model.segment),
            ("plan", model.plan),
            ("lifecycle_stage", model.lifecycle_stage),
        )
        if value
    }


def preview_accounts(*, model: ScoringModel, as_of: dt.datetime) -> QuerySet[Account]:
    """The accounts ``model`` would score if it were activated now."""
    accounts = Account.objects.filter(customers_q(on=as_of.date()), **_filter_kwargs(model))
    # The recompute gives an account to the most specific matching model, the older
    # one on a tie (compiler.model_choice_sql); activating retires the own key's version.
    rivals = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).exclude(key=model.key)
    for rival in rivals:
        if (rival.specificity, -rival.pk) > (model.specificity, -model.pk):
            conditions = _filter_kwargs(rival)
            if not conditions:
                return accounts.none()
            accounts = accounts.exclude(**conditions)
    return accounts


def preview_sample(
    *, model: ScoringModel, as_of: dt.datetime, size: int, random: bool = True
) -> tuple[list[int], int]:
    """Up to ``size`` account ids (random, or the first by id) and how many there were."""
    accounts = preview_accounts(model=model, as_of=as_of)
    ordered = accounts.order_by("?") if random else accounts.order_by("id")
    ids = sorted(ordered.values_list("id", flat=True)[: min(size, PREVIEW_MAX_ACCOUNTS)])
    return ids, accounts.count()


def score_rows_as_of(
    *, model: ScoringModel, account_ids: list[int], as_of: dt.datetime
) -> list[tuple[int, float | None, int | None, float, list]]:
    """Score ``account_ids`` with ``model`` as of ``as_of`` without writing anything:
    ``(account_id, score, band_id, completeness, breakdown)`` per account scored.

    The recompute's own SQL, with time as a parameter: only signals before ``as_of``,
    roll-up windows ending there. Every listed account is scored by ``model`` whatever
    its filter says (the caller chose them); accounts churned before ``as_of`` are left
    out, as in a run. Callers keep the list to a few thousand ids (one IN list).
    """
    if not account_ids:
        return []
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    components = list(model.components.select_related("metric").order_by("position", "id"))
    spec = model_spec(model=model)
    columns = {c.metric_id: compiler.metric_column(c) for c in components}
    table = f"vitals_preview_{int(model.pk)}_{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        with connection.cursor() as cursor:
            rollup = compiler.rollup_sql(
                vendor=vendor,
                table=table,
                metrics=list(columns.values()),
                # This model alone, with no conditions: every listed account is its.
                filters=[compiler.ModelFilter(model.pk, "", "", "")],
                as_of=as_of,
                first_id=min(account_ids),
                last_id=max(account_ids),
                account_ids=account_ids,
            )
            cursor.execute(rollup.text, rollup.params)
            select = compiler.score_select_sql(
                vendor=vendor,
                rollup_table=table,
                model_id=model.pk,
                kind=model.kind,
                components=[
                    (cs, columns[c.metric_id])
                    for cs, c in zip(spec.components, components, strict=True)
                ],
                bands=spec.bands,
            )
            cursor.execute(select.text, select.params)
            scored = cursor.fetchall()
            cursor.execute(f"DROP TABLE {table}")
        # Nothing of the above is meant to last, whatever the database keeps by default.
        transaction.set_rollback(True)
    return [
        (
            account_id,
            score,
            band_id,
            completeness,
            json.loads(breakdown) if isinstance(breakdown, str) else breakdown,
        )
        for account_id, score, band_id, completeness, breakdown in scored
    ]


def scoring_model_preview(
    *, model: ScoringModel, account_ids: list[int], as_of: dt.datetime
) -> list[PreviewRow]:
    """Score ``account_ids`` with ``model`` as of ``as_of`` without writing anything.

    Every listed account is scored by ``model`` whatever its filter says (the caller
    chose the sample); accounts churned before ``as_of`` are left out, as in a run.
    """
    if len(account_ids) > PREVIEW_MAX_ACCOUNTS:
        raise ValueError(f"A preview takes at most {PREVIEW_MAX_ACCOUNTS} accounts.")
    scored = score_rows_as_of(model=model, account_ids=account_ids, as_of=as_of)
    if not scored:
        return []

    bands = {b.pk: b for b in model.bands.all()}
    scored_ids = [row[0] for row in scored]
    accounts = {
        a["id"]: a
        for a in Account.objects.filter(pk__in=scored_ids).values("id", "name", "external_id")
    }
    latest = {
        h.account_id: h
        for h in AccountHealth.objects.filter(account_id__in=scored_ids).select_related(
            "band", "model"
        )
    }
    rows = []
    for account_id, score, band_id, completeness, breakdown in scored:
        band = bands.get(band_id)
        old = latest.get(account_id)
        rows.append(
            PreviewRow(
                account_id=account_id,
                account_name=accounts[account_id]["name"],
                external_id=accounts[account_id]["external_id"],
                old_score=old.score if old else None,
                old_band=old.band.name if old and old.band else None,
                old_band_color=old.band.color if old and old.band else None,
                old_model=str(old.model) if old else None,
                new_score=score,
                new_band=band.name if band else None,
                new_band_color=band.color if band else None,
                completeness=completeness,
                breakdown=breakdown,
                was_scored=old is not None,
            )
        )
    rows.sort(key=lambda r: r.account_id)
    return rows


@dataclass(frozen=True)
class MatrixRow:
    label: str
    color: str | None
    counts: list[int]
    total: int


@dataclass(frozen=True)
class PreviewSummary:
    accounts: int
    compared: int
    average_change: float | None
    band_moves: int
    newly_scored: int
    to_labels: list[tuple[str, str | None]]
    matrix: list[MatrixRow]
    column_totals: list[int]
    biggest_moves: list[PreviewRow]


def preview_summarise(
    *, model: ScoringModel, rows: list[PreviewRow], biggest: int = 25
) -> PreviewSummary:
    """The band-move matrix (from band → to band counts), the average score change over
    the accounts that have both scores, and the accounts that move the most."""
    draft_bands = sorted(
        model.bands.all(), key=lambda b: (b.lower is None, -(b.lower or 0.0), b.name)
    )
    to_labels = [(b.name, b.color) for b in draft_bands]
    if any(r.new_band is None for r in rows):
        to_labels.append((NO_BAND, None))

    # From-bands: the draft's own names in its order first, then any other names the
    # latest scores carry (other models or versions), then the unscored.
    colors: dict[str, str | None] = {}
    for r in rows:
        colors.setdefault(r.from_label, r.old_band_color)
    from_labels = [name for name, _ in to_labels if name in colors and name != NO_BAND]
    from_labels += sorted(set(colors) - set(from_labels) - {NO_BAND, NOT_SCORED})
    from_labels += [label for label in (NO_BAND, NOT_SCORED) if label in colors]

    pairs = Counter((r.from_label, r.to_label) for r in rows)
    matrix = []
    for label in from_labels:
        counts = [pairs[(label, to)] for to, _ in to_labels]
        matrix.append(MatrixRow(label, colors.get(label), counts, sum(counts)))
    column_totals = [sum(row.counts[i] for row in matrix) for i in range(len(to_labels))]

    deltas = [r.delta for r in rows if r.delta is not None]
    average = None
    if deltas:
        total = 0.0
        for delta in deltas:
            total += delta
        average = total / len(deltas)
    moved = sorted(
        (r for r in rows if r.delta is not None),
        key=lambda r: (-abs(r.delta), r.account_name),
    )
    return PreviewSummary(
        accounts=len(rows),
        compared=len(deltas),
        average_change=average,
        band_moves=sum(1 for r in rows if r.band_moved),
        newly_scored=sum(1 for r in rows if not r.was_scored),
        to_labels=to_labels,
        matrix=matrix,
        column_totals=column_totals,
        biggest_moves=moved[:biggest],
    )
