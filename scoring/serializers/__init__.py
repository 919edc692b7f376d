"""JSON shapes of the scoring API: signal batches, health scores, and the configuration
of metrics and scoring models (one module each)."""

from scoring.serializers.configuration import (
    METRIC_MAX_WINDOW_DAYS,
    BandSerializer,
    ComponentSerializer,
    MetricSerializer,
    ScoringModelSerializer,
    band_inputs,
    component_inputs,
)
from scoring.serializers.scores import (
    BandRefSerializer,
    ModelRefSerializer,
    ScoreComponentSerializer,
    ScoreHistorySerializer,
    ScoreSerializer,
)
from scoring.serializers.signals import (
    SIGNALS_MAX_ROWS,
    SignalBatchResultSerializer,
    SignalBatchSerializer,
    SignalRejectedSerializer,
    SignalSerializer,
)

__all__ = [
    "METRIC_MAX_WINDOW_DAYS",
    "SIGNALS_MAX_ROWS",
    "BandRefSerializer",
    "BandSerializer",
    "ComponentSerializer",
    "MetricSerializer",
    "ModelRefSerializer",
    "ScoreComponentSerializer",
    "ScoreHistorySerializer",
    "ScoreSerializer",
    "ScoringModelSerializer",
    "SignalBatchResultSerializer",
    "SignalBatchSerializer",
    "SignalRejectedSerializer",
    "SignalSerializer",
    "band_inputs",
    "component_inputs",
]
