"""Preview a draft scoring model on a sample of accounts before it is activated.

Nothing is written: the preview scores with the recompute's own scorer
(``scoring/scorer.py``; the SELECT half of the history INSERT) inside a transaction
that is rolled back, so a preview's scores are exactly the scores the version would
store, and the latest scores it is compared with stay untouched.

Steps:

1. ``preview_accounts``: the accounts the version would score once active — matching
   its filter, not churned, and not taken by an active model of another key that comes
   first (``scoring/applicability.py``; the version replaces its own key's active one);
2. ``preview_sample``: a random sample of them, or the first ones by id;
3. ``scoring_model_preview``: roll-up and scores for the sample, beside each account's
   latest score and band;
4. ``preview_summarise``: the band-move matrix, the average change and the biggest moves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import QuerySet

from accounts.models import Account
from accounts.selectors import customers_q
from scoring.applicability import ModelFilter, claimed_q
from scoring.models import AccountHealth, Band, ScoringModel
from scoring.scorer import Scorer

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


def preview_accounts(*, model: ScoringModel, as_of: dt.datetime) -> QuerySet[Account]:
    """The accounts ``model`` would score if it were activated now: activating retires
    its own key's active version, and the active models of other keys stay its rivals."""
    rivals = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).exclude(key=model.key)
    return Account.objects.filter(
        customers_q(on=as_of.date()),
        claimed_q(ModelFilter.of(model), [ModelFilter.of(r) for r in rivals]),
    )


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
    # This model alone, with no conditions: every listed account is its.
    scorer = Scorer(models=[model], choice=[ModelFilter.unconditional(model.pk)])
    with transaction.atomic():
        with (
            connection.cursor() as cursor,
            scorer.rollup(
                cursor,
                as_of=as_of,
                first_id=min(account_ids),
                last_id=max(account_ids),
                account_ids=account_ids,
            ) as table,
        ):
            select = scorer.select_sql(table, model)
            cursor.execute(select.text, select.params)
            scored = cursor.fetchall()
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

    bands: dict[int | None, Band] = {b.pk: b for b in model.bands.all()}
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
class BandMatrix:
    to_labels: list[tuple[str, str | None]]
    rows: list[MatrixRow]
    column_totals: list[int]


def band_matrix(
    *, bands, moves: Mapping[tuple[str, str], int], colors: Mapping[str, str | None]
) -> BandMatrix:
    """The band-move matrix: ``moves`` counts accounts by (band now, band with the draft),
    ``colors`` gives each band-now label its colour. Columns: the draft's bands from the
    highest, then "No band" if any account has none. Rows: the draft's own band names in
    its order first, then any other names the latest scores carry (other models or
    versions), then "No band" and the unscored."""
    ordered = sorted(bands, key=lambda b: (b.lower is None, -(b.lower or 0.0), b.name))
    to_labels = [(b.name, b.color) for b in ordered]
    if any(to == NO_BAND and count for (_, to), count in moves.items()):
        to_labels.append((NO_BAND, None))
    from_labels = [name for name, _ in to_labels if name in colors and name != NO_BAND]
    from_labels += sorted(set(colors) - set(from_labels) - {NO_BAND, NOT_SCORED})
    from_labels += [label for label in (NO_BAND, NOT_SCORED) if label in colors]
    rows = []
    for label in from_labels:
        counts = [moves.get((label, to), 0) for to, _ in to_labels]
        rows.append(MatrixRow(label, colors.get(label), counts, sum(counts)))
    totals = [sum(row.counts[i] for row in rows) for i in range(len(to_labels))]
    return BandMatrix(to_labels, rows, totals)


@dataclass(frozen=True)
class BandMoves:
    """How a set of accounts would move between bands: what the preview (a sample) and
    the what-if (the whole book) both show."""

    accounts: int
    compared: int
    average_change: float | None
    band_moves: int
    newly_scored: int
    to_labels: list[tuple[str, str | None]]
    matrix: list[MatrixRow]
    column_totals: list[int]


@dataclass(frozen=True)
class PreviewSummary(BandMoves):
    biggest_moves: list[PreviewRow]


def preview_summarise(
    *, model: ScoringModel, rows: list[PreviewRow], biggest: int = 25
) -> PreviewSummary:
    """The band-move matrix (from band → to band counts), the average score change over
    the accounts that have both scores, and the accounts that move the most."""
    colors: dict[str, str | None] = {}
    for r in rows:
        colors.setdefault(r.from_label, r.old_band_color)
    matrix = band_matrix(
        bands=model.bands.all(),
        moves=Counter((r.from_label, r.to_label) for r in rows),
        colors=colors,
    )

    deltas = [r.delta for r in rows if r.delta is not None]
    average = None
    if deltas:
        total = 0.0
        for delta in deltas:
            total += delta
        average = total / len(deltas)
    moved = [
        row
        for _, row in sorted(
            ((r.delta, r) for r in rows if r.delta is not None),
            key=lambda pair: (-abs(pair[0]), pair[1].account_name),
        )
    ]
    return PreviewSummary(
        accounts=len(rows),
        compared=len(deltas),
        average_change=average,
        band_moves=sum(1 for r in rows if r.band_moved),
        newly_scored=sum(1 for r in rows if not r.was_scored),
        to_labels=matrix.to_labels,
        matrix=matrix.rows,
        column_totals=matrix.column_totals,
        biggest_moves=moved[:biggest],
    )
