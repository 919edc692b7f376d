"""Writes of the scoring app: configuration checks, model versions, signals, sentiment,
and the recompute.

The recompute, step by step (``scoring_run_create`` then ``scoring_chunk_process`` per
chunk, on workers or in-process):

1. A run snapshots the active model versions and splits the accounts in scope into
   chunks of contiguous ids (one set-based query).
2. Each chunk is processed in one transaction, under a row lock on the chunk:
   roll-up of its signals into a temporary table, history rows per model, band-change
   and score-drop events, the latest score per account, the chunk marked done and the
   run's counters advanced. A redelivered chunk task waits for the lock, sees ``done``
   and does nothing; a killed one leaves nothing behind and is simply done again.
3. The chunk that completes the run marks it succeeded.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, ProtectedError
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from accounts.models import AT_RISK_LEVELS, Account, RiskLevel, User
from accounts.selectors import customers_q
from config.tasking import send_on_commit
from scoring import attribution, compiler
from scoring.engine import BandSpec, ComponentSpec, FlapRules, ModelSpec
from scoring.errors import InUse, InvalidModel, NotDraft, ScoringError
from scoring.models import (
    Band,
    CsmSentiment,
    Metric,
    ScoringComponent,
    ScoringModel,
    ScoringRun,
    ScoringRunChunk,
    Signal,
)

logger = logging.getLogger(__name__)

SENTIMENT_METRIC_KEY = "csm_sentiment"


# --- Configuration checks -------------------------------------------------------------


def _number(value) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def component_params_errors(
    *, rule: str, params: object, model_kind: str | None
) -> dict[str, list[str]]:
    """Errors in a component's rule parameters, by field, in words an admin can act on."""
    errors: list[str] = []
    if not isinstance(params, dict):
        return {"params": ['Parameters must be a JSON object, e.g. {"worst": 0, "best": 20}.']}
    if rule == "linear":
        worst, best = params.get("worst"), params.get("best")
        if not (_number(worst) and _number(best)):
            errors.append(
                'A linear range needs numbers "worst" (scores 0) and "best" (scores 100).'
            )
        elif float(worst) == float(best):
            errors.append('"worst" and "best" must differ.')
    elif rule == "steps":
        steps = params.get("steps")
        if not isinstance(steps, list) or not steps:
            errors.append('Step thresholds need "steps": [[threshold, score], ...].')
        else:
            seen = set()
            for i, step in enumerate(steps, start=1):
                if not (isinstance(step, list) and len(step) == 2 and all(map(_number, step))):
                    errors.append(f"Step {i} must be [threshold, score] with two numbers.")
                    continue
                if float(step[0]) in seen:
                    errors.append(f"Step {i} repeats threshold {step[0]}.")
                seen.add(float(step[0]))
                if model_kind == "weighted" and not 0 <= float(step[1]) <= 100:
                    errors.append(f"Step {i} scores {step[1]}; weighted scores run 0–100.")
    elif rule == "table":
        table = params.get("table")
        if not isinstance(table, dict) or not table:
            errors.append('A value table needs "table": {"value": score, ...}.')
        else:
            seen = set()
            for key, score in table.items():
                if not _number(key) or not _number(score):
                    errors.append(f"Table entry {key!r}: {score!r} must map a number to a number.")
                    continue
                if float(key) in seen:
                    errors.append(f"Table value {key} appears twice.")
                seen.add(float(key))
                if model_kind == "weighted" and not 0 <= float(score) <= 100:
                    errors.append(f"Table value {key} scores {score}; weighted scores run 0–100.")
    elif rule == "passthrough":
        pass
    elif rule == "per_unit":
        if not _number(params.get("points")):
            errors.append('Points per unit need "points": a number (may be negative).')
        if model_kind == "weighted":
            errors.append("Points per unit belong to points models; use a 0–100 rule here.")
    else:
        errors.append(f"Unknown rule {rule!r}.")
    return {"params": errors} if errors else {}


def model_errors(*, model: ScoringModel) -> list[str]:
    """Whole-model checks: weights sum to 100, bands sensible, components valid."""
    errors: list[str] = []
    components = list(model.components.select_related("metric"))
    bands = list(model.bands.all())
    if not components:
        errors.append("The model has no components.")
    if model.kind == ScoringModel.Kind.WEIGHTED and components:
        total = sum((c.weight for c in components), Decimal(0))
        if total != Decimal(100):
            # normalize(): 90.00 reads "90", 99.50 reads "99.5".
            errors.append(f"Weights sum to {total.normalize():f} %; they must sum to 100 %.")
    for c in components:
        for messages in component_params_errors(
            rule=c.rule, params=c.params, model_kind=model.kind
        ).values():
            errors.extend(f"{c.display_label}: {m}" for m in messages)
    errors.extend(band_errors(bands=[(b.name, b.lower) for b in bands], model_kind=model.kind))
    return errors


def band_errors(*, bands: list[tuple[str, float | None]], model_kind: str) -> list[str]:
    errors: list[str] = []
    if not bands:
        return ["The model has no bands."]
    lowers = [lower for _, lower in bands if lower is not None]
    for lower in sorted({lower for lower in lowers if lowers.count(lower) > 1}):
        names = " and ".join(name for name, other in bands if other == lower)
        errors.append(
            f"Two bands start at the same score ({names} at {lower:g}): bands must not overlap."
        )
    if sum(1 for _, lower in bands if lower is None) > 1:
        errors.append("Only one band can be open below.")
    names = [name for name, _ in bands]
    if len(names) != len(set(names)):
        errors.append("Band names must be unique within a model.")
    if model_kind == ScoringModel.Kind.WEIGHTED and all(lower is not None for _, lower in bands):
        lowest = min(lowers)
        if lowest > 0:
            errors.append(
                f"No band covers scores below {lowest:g}: start the lowest band at 0 or leave it open below."
            )
    return errors


# --- Model versions ---------------------------------------------------------------------


def model_spec(*, model: ScoringModel) -> ModelSpec:
    components = tuple(
        ComponentSpec(
            metric=c.metric.key,
            rule=c.rule,
            params=c.params,
            weight=float(c.weight),
            missing=c.missing,
            default=c.default_value,
        )
        for c in model.components.select_related("metric").order_by("position", "id")
    )
    bands = tuple(BandSpec(b.name, b.lower, b.id) for b in model.bands.all())
    return ModelSpec(kind=model.kind, components=components, bands=bands)


@transaction.atomic
def scoring_model_new_version(*, model: ScoringModel) -> ScoringModel:
    """A draft copy of ``model`` (components and bands too) as the next version."""
    latest = (
        ScoringModel.objects.filter(key=model.key).order_by("-version").values("version").first()
    )
    draft = ScoringModel.objects.create(
        key=model.key,
        version=latest["version"] + 1,
        name=model.name,
        description=model.description,
        kind=model.kind,
        segment=model.segment,
        plan=model.plan,
        lifecycle_stage=model.lifecycle_stage,
        based_on=model,
        status=ScoringModel.Status.DRAFT,
        exit_margin=model.exit_margin,
        dwell_scorings=model.dwell_scorings,
        dwell_days=model.dwell_days,
    )
    # A new version rolls its metrics up as they are defined now (the version it copies
    # keeps the definitions it was activated with).
    ScoringComponent.objects.bulk_create(
        ScoringComponent(
            model=draft,
            metric_id=c.metric_id,
            rollup=c.metric.rollup,
            window_days=c.metric.window_days,
            label=c.label,
            position=c.position,
            weight=c.weight,
            rule=c.rule,
            params=c.params,
            missing=c.missing,
            default_value=c.default_value,
        )
        for c in model.components.select_related("metric")
    )
    Band.objects.bulk_create(
        Band(model=draft, name=b.name, lower=b.lower, color=b.color, level=b.level)
        for b in model.bands.all()
    )
    return draft


@transaction.atomic
def scoring_model_activate(*, model: ScoringModel, now: dt.datetime | None = None) -> ScoringModel:
    """Make a draft the active version of its model, retiring the one that was active."""
    if model.status != ScoringModel.Status.DRAFT:
        raise NotDraft(f"{model} is {model.get_status_display().lower()}, not a draft.")
    errors = model_errors(model=model)
    if errors:
        raise InvalidModel("Cannot activate: " + " ".join(errors))
    now = now or timezone.now()
    ScoringModel.objects.filter(key=model.key, status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.RETIRED, retired_at=now
    )
    model.status = ScoringModel.Status.ACTIVE
    model.activated_at = now
    model.save(update_fields=["status", "activated_at"])
    return model


@dataclass
class ComponentInput:
    metric: Metric
    rule: str
    params: dict
    label: str = ""
    weight: Decimal = Decimal(0)
    missing: str = ScoringComponent.Missing.SKIP
    default_value: float | None = None


@dataclass
class BandInput:
    name: str
    lower: float | None
    color: str = "#64748b"
    level: str = RiskLevel.NEUTRAL


MODEL_FIELDS = (
    "name",
    "description",
    "kind",
    "segment",
    "plan",
    "lifecycle_stage",
    "exit_margin",
    "dwell_scorings",
    "dwell_days",
)


def scoring_model_draft_save(
    *,
    model: ScoringModel | None = None,
    key: str | None = None,
    based_on: ScoringModel | None = None,
    fields: dict | None = None,
    components: list[ComponentInput] | None = None,
    bands: list[BandInput] | None = None,
) -> ScoringModel:
    """Create a draft or change one, and check the whole model before keeping it.

    Steps: a new draft is the next version of ``key`` (or a copy of ``based_on``, as
    its key's next version); an existing one is locked and must still be a draft. The
    ``fields`` given are set; ``components`` and ``bands``, when given, replace the
    model's (in the order given). Then ``model_errors`` checks the model as a whole
    (weights summing to 100 %, bands, rules for its kind); on any error nothing is
    kept and ValidationError lists them under ``non_field_errors``.
    """
    fields = {name: value for name, value in (fields or {}).items() if name in MODEL_FIELDS}
    with transaction.atomic():
        if model is None and based_on is not None:
            model = scoring_model_new_version(model=based_on)
        elif model is None:
            if not key:
                raise ScoringError("Give the new model a key.")
            latest = (
                ScoringModel.objects.filter(key=key)
                .order_by("-version")
                .values_list("version", flat=True)
                .first()
            )
            model = ScoringModel(key=key, version=(latest or 0) + 1)
        else:
            model = ScoringModel.objects.select_for_update().get(pk=model.pk)
            if model.status != ScoringModel.Status.DRAFT:
                raise NotDraft(
                    f"{model} is {model.get_status_display().lower()}: only drafts can be "
                    "changed. Create a new version to change it."
                )
        for name, value in fields.items():
            setattr(model, name, value)
        if model.pk is None:
            model.save()
        elif fields:
            model.save(update_fields=list(fields))
        if components is not None:
            model.components.all().delete()
            ScoringComponent.objects.bulk_create(
                ScoringComponent(
                    model=model,
                    metric=c.metric,
                    rollup=c.metric.rollup,
                    window_days=c.metric.window_days,
                    label=c.label,
                    position=position,
                    weight=c.weight,
                    rule=c.rule,
                    params=c.params,
                    missing=c.missing,
                    default_value=c.default_value,
                )
                for position, c in enumerate(components)
            )
        if bands is not None:
            model.bands.all().delete()
            Band.objects.bulk_create(
                Band(
                    model=model,
                    name=b.name,
                    lower=b.lower,
                    color=b.color,
                    level=b.level,
                )
                for b in bands
            )
        errors = model_errors(model=model)
        if errors:
            raise ValidationError({"non_field_errors": errors})
    return model


def metric_save(*, metric: Metric | None = None, fields: dict) -> Metric:
    """Create a metric, or change the given fields of one. The one write path of metrics
    (admin, API, demo and imports).

    A metric's roll-up and window decide the scores of every model version that uses it,
    so a version keeps the definition it had when it was activated: a change here is
    copied to the drafts that use the metric, and reaches active versions only through a
    new version (``metric_definition_kept_by`` names them). A key already taken (by a
    request racing this one) is a ValidationError on ``key``, as the serializer's own
    uniqueness check would have said."""
    editable = ("key", "name", "unit", "description", "rollup", "window_days")
    fields = {name: value for name, value in fields.items() if name in editable}
    creating = metric is None or metric.pk is None
    metric = metric or Metric()
    for name, value in fields.items():
        setattr(metric, name, value)
    try:
        with transaction.atomic():
            if creating:
                metric.save()
            elif fields:
                metric.save(update_fields=list(fields))
                if {"rollup", "window_days"} & set(fields):
                    ScoringComponent.objects.filter(
                        metric=metric, model__status=ScoringModel.Status.DRAFT
                    ).update(rollup=metric.rollup, window_days=metric.window_days)
    except IntegrityError:
        raise ValidationError({"key": ["A metric with this key already exists."]}) from None
    return metric


def metric_ensure(*, key: str, fields: dict) -> Metric:
    """The metric ``key`` with ``fields``: created, or changed through ``metric_save`` (so
    a version in use keeps its definition). For code that sets up a known set of
    metrics, such as the demo and the sample imports."""
    metric = Metric.objects.filter(key=key).first()
    if metric is None:
        return metric_save(fields={**fields, "key": key})
    changed = {name: value for name, value in fields.items() if getattr(metric, name) != value}
    return metric_save(metric=metric, fields=changed) if changed else metric


def metric_definition_kept_by(*, metric: Metric) -> list[ScoringModel]:
    """The active versions that roll ``metric`` up by an earlier definition than its
    current one (they keep it until a new version of theirs is activated)."""
    same = {"rollup": metric.rollup}
    if metric.rollup in Metric.WINDOWED:
        same["window_days"] = metric.window_days
    earlier = ScoringComponent.objects.filter(model=OuterRef("pk"), metric=metric).exclude(**same)
    return list(
        ScoringModel.objects.filter(Exists(earlier), status=ScoringModel.Status.ACTIVE).order_by(
            "key", "version"
        )
    )


def metric_delete(*, metric: Metric) -> None:
    """Delete a metric no model and no signal refers to; ScoringError says what does."""
    models = sorted(
        {str(c.model) for c in metric.components.select_related("model")},
    )
    if models:
        raise InUse(
            f"Metric '{metric.key}' is used by the scoring model(s) {', '.join(models)}; "
            "remove it from their components first (a new version for active ones)."
        )
    signals = metric.signals.count()
    if signals:
        raise InUse(
            f"Metric '{metric.key}' has {signals:,} signal(s): signals are history and are "
            "kept. Stop sending it instead."
        )
    try:
        metric.delete()
    except ProtectedError:  # a component or signal added since the checks above
        raise InUse(f"Metric '{metric.key}' came into use; it was not deleted.") from None


# --- Signals and sentiment ---------------------------------------------------------------


@dataclass
class SignalRow:
    account_id: int
    metric_id: int
    value: float
    timestamp: dt.datetime
    source: str = ""
    client_id: str | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0


def signals_store(*, rows: list[SignalRow], batch_size: int = 5000) -> IngestResult:
    """Store already validated signals in one transaction (all or nothing).

    Rows whose client id was stored before (by an earlier request, earlier in this
    batch, or by a request racing this one) are counted as duplicates and not stored
    again: the unique index decides, through ``INSERT … ON CONFLICT DO NOTHING
    RETURNING``, so the counts are exact even when two requests race.
    """
    result = IngestResult()
    seen: set[str] = set()
    unique_rows: list[SignalRow] = []
    for row in rows:
        if row.client_id:
            if row.client_id in seen:
                result.duplicates += 1
                continue
            seen.add(row.client_id)
        unique_rows.append(row)
    if not unique_rows:
        return result
    insert = (
        _signals_insert_postgresql if connection.vendor == "postgresql" else _signals_insert_sqlite
    )
    created = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(unique_rows), batch_size):
            batch = unique_rows[start : start + batch_size]
            stored = insert(cursor, batch, created)
            result.accepted += stored
            result.duplicates += len(batch) - stored
    return result


_SIGNAL_COLUMNS = "(account_id, metric_id, value, timestamp, source, client_id, created_at)"


# The batch is copied into a temporary table of the session (kept for the connection's
# life, emptied before each use; its rows only ever live inside the storing transaction).
_SIGNAL_BATCH_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS signal_batch (account_id bigint, metric_id bigint,"
    " value float8, timestamp timestamptz, source text, client_id text)"
)
_SIGNAL_BATCH_TYPES = ["int8", "int8", "float8", "timestamptz", "text", "text"]


def _signals_insert_postgresql(cursor, batch: list[SignalRow], created: dt.datetime) -> int:
    """Binary COPY into the session's batch table, then one INSERT … SELECT that skips
    the client ids already stored and counts what it stored. COPY costs the web process
    a tenth of the CPU that a multi-row INSERT's parameters do (measured in
    docs/benchmarks.md), and the INSERT keeps ON CONFLICT's exact counting."""
    cursor.execute(_SIGNAL_BATCH_TABLE)
    cursor.execute("TRUNCATE signal_batch")
    with cursor.cursor.copy("COPY signal_batch FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_SIGNAL_BATCH_TYPES)
        for r in batch:
            copy.write_row((r.account_id, r.metric_id, r.value, r.timestamp, r.source, r.client_id))
    cursor.execute(
        f"WITH stored AS (INSERT INTO scoring_signal {_SIGNAL_COLUMNS}"
        " SELECT account_id, metric_id, value, timestamp, source, client_id, %s"
        " FROM signal_batch ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT count(*) FROM stored",
        [created],
    )
    return cursor.fetchone()[0]


def _signals_insert_sqlite(cursor, batch: list[SignalRow], created: dt.datetime) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    created_at = adapt(created)
    stored = 0
    # As many rows per statement as this SQLite takes parameters (7 per row; usually
    # 32,766 parameters: 4,680 rows).
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    rows_per_statement = max(1, limit // 7)
    for start in range(0, len(batch), rows_per_statement):
        chunk = batch[start : start + rows_per_statement]
        params: list = []
        for r in chunk:
            params += [
                r.account_id,
                r.metric_id,
                r.value,
                adapt(r.timestamp),
                r.source,
                r.client_id,
                created_at,
            ]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        cursor.execute(
            f"INSERT INTO scoring_signal {_SIGNAL_COLUMNS}"
            f" VALUES {values} ON CONFLICT DO NOTHING RETURNING id",
            params,
        )
        stored += len(cursor.fetchall())
    return stored


def sentiment_metric() -> Metric:
    metric, _ = Metric.objects.get_or_create(
        key=SENTIMENT_METRIC_KEY,
        defaults={
            "name": "CSM sentiment",
            "unit": "1–5",
            "rollup": Metric.Rollup.LATEST,
            "description": "The account owner's pulse, recorded on the account page.",
        },
    )
    return metric


@transaction.atomic
def sentiment_record(
    *,
    account: Account,
    author: User | None,
    value: int,
    note: str = "",
    at: dt.datetime | None = None,
) -> CsmSentiment:
    if not 1 <= int(value) <= 5:
        raise ScoringError("Sentiment is a whole number from 1 (very unhappy) to 5 (very happy).")
    at = at or timezone.now()
    sentiment = CsmSentiment.objects.create(
        account=account, author=author, value=int(value), note=note.strip(), created_at=at
    )
    Signal.objects.create(
        account=account,
        metric=sentiment_metric(),
        value=float(value),
        timestamp=at,
        source="csm",
        client_id=f"sentiment-{sentiment.pk}",
    )
    return sentiment


# --- Recompute ----------------------------------------------------------------------------


def _active_models(model_ids: Iterable[int] | None = None) -> list[ScoringModel]:
    qs = ScoringModel.objects.prefetch_related("components__metric", "bands")
    if model_ids is None:
        qs = qs.filter(status=ScoringModel.Status.ACTIVE)
    else:
        qs = qs.filter(pk__in=list(model_ids))
    return list(qs.order_by("id"))


def _accounts_in_scope(*, scope: str, segment: str, account_id: int | None, as_of: dt.datetime):
    qs = Account.objects.filter(customers_q(on=as_of.date()))
    if scope == ScoringRun.Scope.SEGMENT:
        qs = qs.filter(segment=segment)
    elif scope == ScoringRun.Scope.ACCOUNT:
        qs = qs.filter(pk=account_id)
    return qs


@transaction.atomic
def scoring_run_create(
    *,
    scope: str = ScoringRun.Scope.ALL,
    segment: str = "",
    account: Account | None = None,
    as_of: dt.datetime | None = None,
    trigger: str = "manual",
    requested_by: User | None = None,
    chunk_size: int | None = None,
) -> ScoringRun:
    """Plan a recompute: snapshot the active models and split the accounts into chunks."""
    if scope == ScoringRun.Scope.SEGMENT and segment not in Account.Segment.values:
        raise ScoringError(
            f"Unknown segment {segment!r}; choose one of {', '.join(Account.Segment.values)}."
        )
    if scope == ScoringRun.Scope.ACCOUNT and account is None:
        raise ScoringError("Name the account to recompute.")
    as_of = as_of or timezone.now()
    models = _active_models()
    run = ScoringRun.objects.create(
        scope=scope,
        segment=segment if scope == ScoringRun.Scope.SEGMENT else "",
        account=account if scope == ScoringRun.Scope.ACCOUNT else None,
        as_of=as_of,
        trigger=trigger,
        requested_by=requested_by,
        model_ids=[m.id for m in models],
        chunk_size=chunk_size or settings.VITALS_RECOMPUTE_CHUNK_SIZE,
    )
    accounts = _accounts_in_scope(
        scope=scope, segment=segment, account_id=account.pk if account else None, as_of=as_of
    )
    # Chunk boundaries in one set-based query: every chunk_size-th id in order.
    inner, params = accounts.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id), count(*) FROM ("
            f"SELECT id, (row_number() OVER (ORDER BY id) - 1) / %s AS bucket FROM ({inner}) ids"
            ") t GROUP BY bucket ORDER BY bucket",
            [run.chunk_size, *params],
        )
        bounds = cursor.fetchall()
    ScoringRunChunk.objects.bulk_create(
        ScoringRunChunk(run=run, index=i, first_account_id=lo, last_account_id=hi)
        for i, (lo, hi, _) in enumerate(bounds)
    )
    run.chunks_total = len(bounds)
    run.accounts_total = sum(count for *_, count in bounds)
    if not models:
        run.errors = "No active scoring model: nothing was scored."
    run.save(update_fields=["chunks_total", "accounts_total", "errors"])
    if not bounds or not models:
        _run_finish(run_id=run.pk)
    return run


def _metric_columns(models: list[ScoringModel]) -> dict[tuple, compiler.MetricColumn]:
    """Every roll-up the models' components need, by definition (metric, roll-up, window)."""
    columns: dict[tuple, compiler.MetricColumn] = {}
    for model in models:
        for c in model.components.all():
            column = compiler.metric_column(c)
            columns[column.definition] = column
    return columns


def flap_rules(model: ScoringModel) -> FlapRules:
    return FlapRules(
        exit_margin=model.exit_margin,
        dwell_scorings=model.dwell_scorings,
        dwell_days=model.dwell_days,
    )


def _execute(cursor, sql: compiler.Sql) -> int:
    cursor.execute(sql.text, sql.params)
    return cursor.rowcount


def _vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _ts(value: dt.datetime):
    return compiler._ts(_vendor(), value)


def scoring_chunk_process(*, chunk_id: int) -> bool:
    """Score one chunk exactly once. Returns False if it was already done."""
    ScoringRunChunk.objects.filter(pk=chunk_id, done=False).update(
        attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    # Outside the chunk's transaction: inside it, the run row would stay locked until the
    # first chunk commits, and every other chunk would wait for it.
    ScoringRun.objects.filter(chunks=chunk_id, status=ScoringRun.Status.PENDING).update(
        status=ScoringRun.Status.RUNNING, started_at=timezone.now()
    )
    with transaction.atomic():
        try:
            # Lock the chunk row only: a plain FOR UPDATE would lock the joined run row
            # too, and every other chunk of the run would wait for this one to commit.
            chunk = (
                ScoringRunChunk.objects.select_for_update(of=("self",))
                .select_related("run")
                .get(pk=chunk_id)
            )
        except ScoringRunChunk.DoesNotExist:
            return False
        if chunk.done:
            return False
        run = chunk.run
        counts = _score_range(
            run=run, first_id=chunk.first_account_id, last_id=chunk.last_account_id
        )
        ScoringRunChunk.objects.filter(pk=chunk.pk).update(
            done=True, scored=counts["scored"], finished_at=timezone.now(), error=""
        )
        ScoringRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + 1,
            accounts_scored=F("accounts_scored") + counts["scored"],
            band_changes=F("band_changes") + counts["band_changes"],
            score_drops=F("score_drops") + counts["score_drops"],
        )
    _run_finish(run_id=run.pk)
    return True


def _score_range(*, run: ScoringRun, first_id: int, last_id: int) -> dict[str, int]:
    vendor = _vendor()
    models = _active_models(run.model_ids)
    columns = _metric_columns(models)
    filters = [compiler.ModelFilter(m.id, m.segment, m.plan, m.lifecycle_stage) for m in models]
    table = f"vitals_rollup_{run.pk}_{first_id}"
    counts = {"scored": 0, "band_changes": 0, "score_drops": 0}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        _execute(
            cursor,
            compiler.rollup_sql(
                vendor=vendor,
                table=table,
                metrics=list(columns.values()),
                filters=filters,
                as_of=run.as_of,
                first_id=first_id,
                last_id=last_id,
                segment=run.segment if run.scope == ScoringRun.Scope.SEGMENT else "",
            ),
        )
        if run.scope == ScoringRun.Scope.ACCOUNT:
            cursor.execute(f"DELETE FROM {table} WHERE account_id <> %s", [run.account_id])
        for model in models:
            spec = model_spec(model=model)
            components = [
                (cs, columns[compiler.metric_column(c).definition])
                for cs, c in zip(
                    spec.components,
                    model.components.select_related("metric").order_by("position", "id"),
                    strict=True,
                )
            ]
            counts["scored"] += _execute(
                cursor,
                compiler.score_insert_sql(
                    vendor=vendor,
                    rollup_table=table,
                    model_id=model.id,
                    kind=model.kind,
                    components=components,
                    bands=spec.bands,
                    rules=flap_rules(model),
                    run_id=run.pk,
                    computed_at=run.as_of,
                ),
            )
            # What moved each new score since the account's previous one (scoring.attribution).
            _execute(
                cursor,
                attribution.delta_update_sql(
                    vendor=vendor,
                    model_id=model.id,
                    kind=model.kind,
                    weights=[c.weight for c in spec.components],
                    run_id=run.pk,
                    first_id=first_id,
                    last_id=last_id,
                ),
            )
        cursor.execute(f"DROP TABLE {table}")
        counts["band_changes"], counts["score_drops"] = _record_events(
            cursor, run=run, first_id=first_id, last_id=last_id, now=run.as_of
        )
        _update_latest(cursor, run=run, first_id=first_id, last_id=last_id)
    return counts


def _record_events(cursor, *, run: ScoringRun, first_id: int, last_id: int, now) -> tuple[int, int]:
    """Confirmed band changes and score drops of this run's new scores against the latest
    ones, dated ``now``: the moment the run scored (its as-of), not when it happened to
    run. Bands compare by name and level (each version has band rows of its own); a
    change under another model than the latest score's is flagged a re-baseline.

    An account's first band (its first score, or the first with data) is an event only
    when it is a risky level (at risk or critical): a new account that starts at risk
    is an alarm like one that falls there; one that starts healthy is no news."""
    insert = (
        "INSERT INTO scoring_scoreevent (kind, account_id, health_score_id, run_id,"
        " from_band_id, to_band_id, score_before, score_after, rebaseline, created_at)"
        " SELECT %s, h.account_id, h.id, h.run_id, ah.band_id, h.confirmed_band_id,"
        " ah.score, h.score, h.rebaseline, %s"
        " FROM scoring_healthscore h"
        " LEFT JOIN scoring_accounthealth ah ON ah.account_id = h.account_id"
        " LEFT JOIN scoring_band ob ON ob.id = ah.band_id"
        " LEFT JOIN scoring_band nb ON nb.id = h.confirmed_band_id"
        " WHERE h.run_id = %s AND h.account_id >= %s AND h.account_id <= %s"
        # A later latest score (a past-dated run) has nothing to compare with here.
        " AND (ah.computed_at IS NULL OR ah.computed_at < h.computed_at)"
    )
    risky = ", ".join("%s" for _ in AT_RISK_LEVELS)
    cursor.execute(
        insert + " AND (CASE WHEN ob.id IS NULL THEN"
        f" (CASE WHEN nb.level IN ({risky}) THEN 1 ELSE 0 END)"
        " WHEN ob.name <> COALESCE(nb.name, '') OR ob.level <> COALESCE(nb.level, '')"
        " THEN 1 ELSE 0 END) = 1 ON CONFLICT DO NOTHING",
        ["band_changed", _ts(now), run.pk, first_id, last_id, *AT_RISK_LEVELS],
    )
    band_changes = cursor.rowcount
    cursor.execute(
        insert + " AND ah.score - h.score >= %s ON CONFLICT DO NOTHING",
        ["score_dropped", _ts(now), run.pk, first_id, last_id, settings.VITALS_SCORE_DROP_POINTS],
    )
    return band_changes, cursor.rowcount


def _update_latest(cursor, *, run: ScoringRun, first_id: int, last_id: int) -> None:
    earlier = (
        "h.score - (SELECT p.score FROM scoring_healthscore p WHERE p.account_id = h.account_id"
        " AND p.computed_at <= %s ORDER BY p.computed_at DESC LIMIT 1)"
    )
    params = [_ts(run.as_of - dt.timedelta(days=days)) for days in (7, 30, 90)]
    cursor.execute(
        "INSERT INTO scoring_accounthealth (account_id, health_score_id, model_id, score, band_id,"
        " level, raw_band_id, pending_band_id, pending_count, pending_since, rebaseline,"
        " completeness, computed_at, trend_7d, trend_30d, trend_90d)"
        " SELECT h.account_id, h.id, h.model_id, h.score, h.confirmed_band_id,"
        " COALESCE(cb.level, ''), h.band_id, h.pending_band_id, h.pending_count,"
        " h.pending_since, h.rebaseline, h.completeness, h.computed_at,"
        f" {earlier}, {earlier}, {earlier}"
        " FROM scoring_healthscore h LEFT JOIN scoring_band cb ON cb.id = h.confirmed_band_id"
        " WHERE h.run_id = %s AND h.account_id >= %s AND h.account_id <= %s"
        " ON CONFLICT (account_id) DO UPDATE SET health_score_id = excluded.health_score_id,"
        " model_id = excluded.model_id, score = excluded.score, band_id = excluded.band_id,"
        " level = excluded.level, raw_band_id = excluded.raw_band_id,"
        " pending_band_id = excluded.pending_band_id, pending_count = excluded.pending_count,"
        " pending_since = excluded.pending_since, rebaseline = excluded.rebaseline,"
        " completeness = excluded.completeness, computed_at = excluded.computed_at,"
        " trend_7d = excluded.trend_7d, trend_30d = excluded.trend_30d,"
        " trend_90d = excluded.trend_90d"
        " WHERE scoring_accounthealth.computed_at <= excluded.computed_at",
        [*params, run.pk, first_id, last_id],
    )


def _run_finish(*, run_id: int) -> None:
    """Mark the run succeeded once every chunk is done (a conditional update: only the
    chunk that completes the run gets a row back, however many finish at once), then
    tell the apps that consume score events (settings.VITALS_AFTER_RECOMPUTE_TASKS,
    Celery task names: scoring does not import them)."""
    finished = ScoringRun.objects.filter(
        pk=run_id,
        status__in=[ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING],
        chunks_done__gte=F("chunks_total"),
    ).update(
        status=ScoringRun.Status.SUCCEEDED,
        finished_at=Now(),
        started_at=Coalesce(F("started_at"), Now()),
    )
    if finished:
        # Best effort: the consumers also run on a schedule, so an unreachable broker only
        # delays them until the next tick.
        for name in settings.VITALS_AFTER_RECOMPUTE_TASKS:
            send_on_commit(name)


def scoring_chunk_fail(*, chunk_id: int, error: str) -> None:
    """Record a chunk's error; the run is failed so that an admin sees it."""
    chunk = ScoringRunChunk.objects.select_related("run").get(pk=chunk_id)
    chunk.error = error[:2000]
    chunk.save(update_fields=["error"])
    run = chunk.run
    if run.status != ScoringRun.Status.SUCCEEDED:
        run.status = ScoringRun.Status.FAILED
        run.finished_at = timezone.now()
    run.errors = (run.errors + f"\nchunk {chunk.index}: {error}").strip()[:10000]
    run.save(update_fields=["status", "finished_at", "errors"])


def scoring_run_execute(*, run: ScoringRun, progress=None) -> ScoringRun:
    """Process every pending chunk of ``run`` in this process (commands, tests, seeding)."""
    for chunk_id in run.chunks.filter(done=False).order_by("index").values_list("id", flat=True):
        try:
            scoring_chunk_process(chunk_id=chunk_id)
        except Exception as exc:
            scoring_chunk_fail(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
            raise
        if progress:
            progress()
    run.refresh_from_db()
    return run


def recompute_now(*, account: Account, requested_by: User | None = None) -> ScoringRun:
    """Recompute one account in this process: what the "recompute now" button does."""
    run = scoring_run_create(
        scope=ScoringRun.Scope.ACCOUNT, account=account, trigger="manual", requested_by=requested_by
    )
    return scoring_run_execute(run=run)
