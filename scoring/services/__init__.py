"""Writes of the scoring app, by topic:

- ``versions``: scoring model drafts, new versions, activation;
- ``metrics``: metrics, and the definition a version in use keeps;
- ``signals``: validated signals stored, CSM sentiment;
- ``recompute``: a run planned, its chunks scored, the run finished;
- ``workers``: runs on the workers, started once, never left stuck;
- ``history``: the retention policy applied to score history and signals, partitions
  made ahead.

Checks that write nothing are in ``scoring/validation.py``; the scoring itself, in SQL,
in ``scoring/scorer.py``.

Import from here: ``from scoring.services import scoring_model_activate``.
"""

from scoring.services.history import (
    history_compact,
    history_maintain,
    retention_policy_save,
    retention_tiers,
    signals_cutoff,
    signals_removed_before,
)
from scoring.services.metrics import (
    metric_definition_kept_by,
    metric_delete,
    metric_ensure,
    metric_save,
    metrics_definitions_kept_by,
)
from scoring.services.recompute import (
    recompute_now,
    scoring_chunk_fail,
    scoring_chunk_process,
    scoring_run_create,
    scoring_run_execute,
)
from scoring.services.signals import (
    SENTIMENT_METRIC_KEY,
    IngestResult,
    SignalRow,
    sentiment_metric,
    sentiment_record,
    signals_store,
)
from scoring.services.versions import (
    MODEL_FIELDS,
    BandInput,
    ComponentInput,
    scoring_model_activate,
    scoring_model_draft_save,
    scoring_model_new_version,
)
from scoring.services.workers import (
    scoring_chunk_claim,
    scoring_run_help,
    scoring_run_stalled_chunks,
    scoring_run_start,
    scoring_runs_open,
)

__all__ = [
    "MODEL_FIELDS",
    "SENTIMENT_METRIC_KEY",
    "BandInput",
    "ComponentInput",
    "IngestResult",
    "SignalRow",
    "history_compact",
    "history_maintain",
    "metric_definition_kept_by",
    "metric_delete",
    "metric_ensure",
    "metric_save",
    "metrics_definitions_kept_by",
    "recompute_now",
    "retention_policy_save",
    "retention_tiers",
    "scoring_chunk_claim",
    "scoring_chunk_fail",
    "scoring_chunk_process",
    "scoring_model_activate",
    "scoring_model_draft_save",
    "scoring_model_new_version",
    "scoring_run_create",
    "scoring_run_execute",
    "scoring_run_help",
    "scoring_run_stalled_chunks",
    "scoring_run_start",
    "scoring_runs_open",
    "sentiment_metric",
    "sentiment_record",
    "signals_cutoff",
    "signals_removed_before",
    "signals_store",
]
