"""The scoring app's tables, by topic:

- ``metrics``: metrics, the signals that record them, CSM sentiment;
- ``configuration``: scoring model versions, their components and bands, grade scale;
- ``runs``: recomputes and their chunks;
- ``jobs``: backtests and what-ifs run on the workers, with progress and report;
- ``results``: health score history, the latest health per account, score events;
- ``retention``: how long history and signals are kept, and the compactions applying it;
- ``figures``: the book's counts and ARR kept by database triggers for the pages.

The scoring maths lives in ``scoring/engine.py`` (pure Python, the reference) and
``scoring/sql/`` (the same rules as SQL, the fast path); these models only hold
configuration and results. Scoring never imports playbooks: band changes and score
drops are written as ``ScoreEvent`` rows, which playbooks reads and claims.

Import from here: ``from scoring.models import HealthScore``.
"""

from scoring.models.configuration import Band, GradeScale, ScoringComponent, ScoringModel
from scoring.models.figures import BookFigure, ScoreFigure
from scoring.models.jobs import AnalysisJob
from scoring.models.metrics import (
    CsmSentiment,
    Metric,
    Signal,
    describe_rollup,
    look_back_days,
    rollup_unit,
)
from scoring.models.results import AccountHealth, FlapState, HealthScore, ScoreEvent
from scoring.models.retention import CompactionRun, RetentionPolicy
from scoring.models.runs import ScoringRun, ScoringRunChunk

__all__ = [
    "AccountHealth",
    "AnalysisJob",
    "Band",
    "BookFigure",
    "CompactionRun",
    "CsmSentiment",
    "FlapState",
    "GradeScale",
    "HealthScore",
    "Metric",
    "RetentionPolicy",
    "ScoreEvent",
    "ScoreFigure",
    "ScoringComponent",
    "ScoringModel",
    "ScoringRun",
    "ScoringRunChunk",
    "Signal",
    "describe_rollup",
    "look_back_days",
    "rollup_unit",
]
