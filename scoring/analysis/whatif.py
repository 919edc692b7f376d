"""What activating a draft would do to the whole book: the band-move matrix over every
account the version would score, set-based.

The preview (``scoring/analysis/preview.py``) brings a sample's rows into Python; this counts in
the database instead. Per chunk of contiguous account ids, inside a transaction that is
rolled back:

1. the scorer's roll-up (``scoring/scorer.py``) over the id range, choosing each
   account's model among the draft and the active models of *other* keys exactly as a
   run would once the draft replaced its own key's active version;
2. the draft's scores, joined to the accounts' latest scores and grouped by (band now,
   band with the draft): counts, the summed change of score and how many accounts had
   both scores.

Only a few numbers per band pair come back, however big the book.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import customers_q
from scoring import sql
from scoring.analysis.backtest import Progress
from scoring.analysis.preview import NO_BAND, NOT_SCORED, BandMoves, band_matrix
from scoring.applicability import ModelFilter
from scoring.models import ScoringModel
from scoring.scorer import Scorer


@dataclass(frozen=True)
class BookMoves(BandMoves):
    as_of: dt.datetime


def book_band_moves(
    *,
    model: ScoringModel,
    as_of: dt.datetime | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> BookMoves:
    """Band now → band with ``model`` for every account it would score once active;
    ``progress(done, total)`` is told the customers counted after each chunk."""
    as_of = as_of or timezone.now()
    rivals = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).exclude(key=model.key)
    scorer = Scorer(models=[model], choice=[ModelFilter.of(m) for m in [model, *rivals]])
    pairs: dict[tuple[str, str | None, int | None], list[float]] = {}
    bands = {b.pk: b for b in model.bands.all()}
    accounts = Account.objects.filter(customers_q(on=as_of.date()))
    ranges = sql.id_ranges(accounts, chunk_size or settings.VITALS_RECOMPUTE_CHUNK_SIZE)
    done, total = 0, sum(count for *_, count in ranges)
    if progress:
        progress(done, total)
    for first_id, last_id, size in ranges:
        with transaction.atomic():
            with (
                connection.cursor() as cursor,
                scorer.rollup(cursor, as_of=as_of, first_id=first_id, last_id=last_id) as table,
            ):
                select = scorer.select_sql(table, model)
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
            # Nothing of the above is meant to last.
            transaction.set_rollback(True)
        done += size
        if progress:
            progress(done, total)

    moves: Counter[tuple[str, str]] = Counter()
    colors: dict[str, str | None] = {}
    total_change, compared = 0.0, 0
    for (label, color, band_id), (count, change, with_both) in pairs.items():
        # The counts are whole numbers held in a list of floats beside the sum of changes.
        moves[(label, bands[band_id].name if band_id in bands else NO_BAND)] += int(count)
        colors.setdefault(label, color)
        total_change += change
        compared += int(with_both)
    matrix = band_matrix(bands=bands.values(), moves=moves, colors=colors)
    return BookMoves(
        as_of=as_of,
        accounts=sum(row.total for row in matrix.rows),
        compared=compared,
        average_change=total_change / compared if compared else None,
        band_moves=sum(
            count for (was, now), count in moves.items() if was != NOT_SCORED and was != now
        ),
        newly_scored=sum(count for (was, _), count in moves.items() if was == NOT_SCORED),
        to_labels=matrix.to_labels,
        matrix=matrix.rows,
        column_totals=matrix.column_totals,
    )
