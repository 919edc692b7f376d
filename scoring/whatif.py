"""What activating a draft would do to the whole book: the band-move matrix over every
account the version would score, set-based.

The preview (``scoring/preview.py``) brings a sample's rows into Python; this counts in
the database instead. Per chunk of contiguous account ids, inside a transaction that is
rolled back:

1. ``compiler.rollup_sql`` over the id range, choosing each account's model among the
   draft and the active models of *other* keys exactly as a run would once the draft
   replaced its own key's active version;
2. ``compiler.score_select_sql`` for the draft, joined to the accounts' latest scores
   and grouped by (band now, band with the draft): counts, the summed change of score
   and how many accounts had both scores.

Only a few numbers per band pair come back, however big the book.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import customers_q
from scoring import compiler
from scoring.models import ScoringModel
from scoring.preview import NO_BAND, NOT_SCORED, MatrixRow
from scoring.services import model_spec


@dataclass(frozen=True)
class BookMoves:
    as_of: dt.datetime
    accounts: int
    compared: int
    average_change: float | None
    band_moves: int
    newly_scored: int
    to_labels: list[tuple[str, str | None]]
    matrix: list[MatrixRow]
    column_totals: list[int]


def _chunks(*, as_of: dt.datetime, size: int) -> list[tuple[int, int]]:
    accounts = Account.objects.filter(customers_q(on=as_of.date()))
    inner, params = accounts.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM ("
            f"SELECT id, (row_number() OVER (ORDER BY id) - 1) / %s AS bucket FROM ({inner}) ids"
            ") t GROUP BY bucket ORDER BY bucket",
            [size, *params],
        )
        return cursor.fetchall()


def book_band_moves(
    *, model: ScoringModel, as_of: dt.datetime | None = None, chunk_size: int | None = None
) -> BookMoves:
    """Band now → band with ``model`` for every account it would score once active."""
    as_of = as_of or timezone.now()
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    components = list(model.components.select_related("metric").order_by("position", "id"))
    spec = model_spec(model=model)
    columns = {c.metric_id: compiler.metric_column(c) for c in components}
    rivals = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).exclude(key=model.key)
    filters = [
        compiler.ModelFilter(m.pk, m.segment, m.plan, m.lifecycle_stage) for m in [model, *rivals]
    ]
    pairs: dict[tuple[str, str | None, int | None], list[float]] = {}
    bands = {b.pk: b for b in model.bands.all()}
    for first_id, last_id in _chunks(
        as_of=as_of, size=chunk_size or settings.VITALS_RECOMPUTE_CHUNK_SIZE
    ):
        table = f"vitals_whatif_{int(model.pk)}_{uuid.uuid4().hex[:12]}"
        with transaction.atomic(), connection.cursor() as cursor:
            rollup = compiler.rollup_sql(
                vendor=vendor,
                table=table,
                metrics=list(columns.values()),
                filters=filters,
                as_of=as_of,
                first_id=first_id,
                last_id=last_id,
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
            cursor.execute(
                "SELECT CASE WHEN ah.account_id IS NULL THEN 0 ELSE 1 END, ob.name, ob.color,"
                " s.band_id, count(*), sum(s.score - ah.score), count(s.score - ah.score)"
                f" FROM ({select.text}) s"
                " LEFT JOIN scoring_accounthealth ah ON ah.account_id = s.account_id"
                " LEFT JOIN scoring_band ob ON ob.id = ah.band_id"
                " GROUP BY CASE WHEN ah.account_id IS NULL THEN 0 ELSE 1 END,"
                " ob.name, ob.color, s.band_id",
                select.params,
            )
            for was_scored, old_name, old_color, band_id, count, change, compared in cursor:
                label = (old_name or NO_BAND) if was_scored else NOT_SCORED
                slot = pairs.setdefault((label, old_color, band_id), [0, 0.0, 0])
                slot[0] += count
                slot[1] += change or 0.0
                slot[2] += compared
            cursor.execute(f"DROP TABLE {table}")
            transaction.set_rollback(True)

    ordered = sorted(bands.values(), key=lambda b: (b.lower is None, -(b.lower or 0.0), b.name))
    to_labels = [(b.name, b.color) for b in ordered]
    if any(band_id is None for _, _, band_id in pairs):
        to_labels.append((NO_BAND, None))
    to_index = {name: i for i, (name, _) in enumerate(to_labels)}
    colors: dict[str, str | None] = {}
    for label, color, _ in pairs:
        colors.setdefault(label, color)
    from_labels = [name for name, _ in to_labels if name in colors and name != NO_BAND]
    from_labels += sorted(set(colors) - set(from_labels) - {NO_BAND, NOT_SCORED})
    from_labels += [label for label in (NO_BAND, NOT_SCORED) if label in colors]
    counts = {label: [0] * len(to_labels) for label in from_labels}
    total_change, compared, moves = 0.0, 0, 0
    for (label, _, band_id), (count, change, with_both) in pairs.items():
        to_name = bands[band_id].name if band_id in bands else NO_BAND
        counts[label][to_index[to_name]] += count
        total_change += change
        compared += with_both
        if label != NOT_SCORED and label != to_name:
            moves += count
    matrix = [
        MatrixRow(label, colors[label], counts[label], sum(counts[label])) for label in from_labels
    ]
    return BookMoves(
        as_of=as_of,
        accounts=sum(row.total for row in matrix),
        compared=compared,
        average_change=total_change / compared if compared else None,
        band_moves=moves,
        newly_scored=sum(row.total for row in matrix if row.label == NOT_SCORED),
        to_labels=to_labels,
        matrix=matrix,
        column_totals=[sum(row.counts[i] for row in matrix) for i in range(len(to_labels))],
    )
