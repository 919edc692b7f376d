"""Score accounts into a temporary table: the one way the product computes scores in SQL.

The recompute (``scoring/services/chunks.py``), the preview of a draft and the what-if
over the whole book (``scoring/analysis/``) all score the same way, and only differ in
what they do with the result:

    scorer = Scorer(models=[...], choice=[...])
    with scorer.rollup(cursor, as_of=..., first_id=..., last_id=...) as table:
        scorer.insert_sql(table, model, ...)   # the recompute: history rows
        scorer.select_sql(table, model)        # preview and what-if: rows, nothing written

``rollup`` builds the temporary roll-up table (``scoring.sql.rollup``) with each
account's model chosen among ``choice`` (``scoring.applicability``); the statements
score a model's accounts from it (``scoring.sql.scores``). ``model_spec`` and
``flap_rules`` turn a stored version into the reference engine's terms.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scoring import sql
from scoring.applicability import ModelFilter
from scoring.engine import BandSpec, ComponentSpec, FlapRules, ModelSpec
from scoring.models import ScoringComponent, ScoringModel
from scoring.sql.rollup import MetricColumn, metric_column, rollup_sql
from scoring.sql.scores import score_insert_sql, score_select_sql


def _components(model: ScoringModel) -> list[ScoringComponent]:
    return list(model.components.select_related("metric").order_by("position", "id"))


def model_spec(
    *, model: ScoringModel, components: Sequence[ScoringComponent] | None = None
) -> ModelSpec:
    """A stored version in the reference engine's terms (components in scoring order)."""
    components = _components(model) if components is None else components
    return ModelSpec(
        kind=model.kind,
        components=tuple(
            ComponentSpec(
                metric=c.metric.key,
                rule=c.rule,
                params=c.params,
                weight=float(c.weight),
                missing=c.missing,
                default=c.default_value,
            )
            for c in components
        ),
        bands=tuple(BandSpec(b.name, b.lower, b.id) for b in model.bands.all()),
    )


def flap_rules(model: ScoringModel) -> FlapRules:
    return FlapRules(
        exit_margin=model.exit_margin,
        dwell_scorings=model.dwell_scorings,
        dwell_days=model.dwell_days,
    )


@dataclass(frozen=True)
class ScoredModel:
    model: ScoringModel
    spec: ModelSpec
    # Each component with the roll-up column it reads, in scoring order.
    components: list[tuple[ComponentSpec, MetricColumn]]


class Scorer:
    """Scores accounts with ``models``; each account goes to the model ``choice`` gives it
    (by default: chosen among ``models`` by their filters, as a run chooses)."""

    def __init__(
        self, *, models: Sequence[ScoringModel], choice: Sequence[ModelFilter] | None = None
    ) -> None:
        self.vendor = sql.vendor()
        self.choice = list(choice) if choice is not None else [ModelFilter.of(m) for m in models]
        # Every roll-up the models read, by definition (metric, roll-up, window): two
        # versions reading a metric over different windows get a column each.
        self.columns: dict[tuple, MetricColumn] = {}
        self.models: dict[int, ScoredModel] = {}
        for model in models:
            components = _components(model)
            spec = model_spec(model=model, components=components)
            columns = []
            for c in components:
                column = metric_column(c)
                columns.append(self.columns.setdefault(column.definition, column))
            self.models[model.pk] = ScoredModel(
                model, spec, list(zip(spec.components, columns, strict=True))
            )

    @contextmanager
    def rollup(
        self,
        cursor,
        *,
        as_of: dt.datetime,
        first_id: int,
        last_id: int,
        segment: str = "",
        account_ids: list[int] | None = None,
    ) -> Iterator[str]:
        """The roll-up of accounts ``first_id``..``last_id`` (only ``account_ids`` when
        given; only ``segment`` when given) as of ``as_of``, as a temporary table whose
        name is yielded; dropped on the way out. (After an error it is left to the
        transaction's rollback, or to the end of the session: the database may refuse
        any further statement until then.)"""
        table = f"vitals_rollup_{uuid.uuid4().hex[:16]}"
        statement = rollup_sql(
            vendor=self.vendor,
            table=table,
            metrics=list(self.columns.values()),
            filters=self.choice,
            as_of=as_of,
            first_id=first_id,
            last_id=last_id,
            segment=segment,
            account_ids=account_ids,
        )
        cursor.execute(statement.text, statement.params)
        yield table
        cursor.execute(f"DROP TABLE {table}")

    def _sql_args(self, table: str, model: ScoringModel) -> dict[str, Any]:
        scored = self.models[model.pk]
        return {
            "vendor": self.vendor,
            "rollup_table": table,
            "model_id": model.pk,
            "kind": model.kind,
            "components": scored.components,
            "bands": scored.spec.bands,
        }

    def select_sql(self, table: str, model: ScoringModel) -> sql.Sql:
        """SELECT account_id, score, band_id, completeness, breakdown of ``model``'s accounts."""
        return score_select_sql(**self._sql_args(table, model))

    def insert_sql(
        self, table: str, model: ScoringModel, *, run_id: int | None, computed_at: dt.datetime
    ) -> sql.Sql:
        """INSERT ``model``'s accounts' history rows, with flap control's bands."""
        return score_insert_sql(
            **self._sql_args(table, model),
            rules=flap_rules(model),
            run_id=run_id,
            computed_at=computed_at,
        )
