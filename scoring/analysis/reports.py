"""Reports of analysis jobs kept as JSON and read back: a backtest (without its
samples, which only a fit needs), its suggested weights, and a what-if's band moves.

``plain`` turns a report into JSON values; ``*_from_plain`` build the same dataclasses
again, so the pages and the command read a stored report exactly as a fresh one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from scoring import engine
from scoring.analysis import calibration, stats
from scoring.analysis.backtest import BacktestPoint, BacktestReport, BandRow, ComponentAuc
from scoring.analysis.preview import MatrixRow
from scoring.analysis.suggest import CalibrationReport
from scoring.analysis.whatif import BookMoves
from scoring.models import ScoringModel

# Fields left out of the JSON: a backtest's version is the job's own, and its samples
# (one per account and date) are only needed to fit weights, which the job does first.
LEFT_OUT: dict[type, set[str]] = {BacktestReport: {"model", "samples"}}


def plain(value: Any) -> Any:
    """``value`` as JSON values: dataclasses as objects, dates as ISO strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        left_out = LEFT_OUT.get(type(value), set())
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in left_out
        }
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _band(data: dict | None) -> BandRow | None:
    return BandRow(**data) if data else None


def report_from_plain(data: dict, *, model: ScoringModel) -> BacktestReport:
    points = [
        BacktestPoint(
            **{
                **point,
                "date": _date(point["date"]),
                "bands": [BandRow(**b) for b in point["bands"]],
                "worst_band": _band(point["worst_band"]),
                "deciles": [stats.Decile(**d) for d in point["deciles"]],
                "components": [ComponentAuc(**c) for c in point["components"]],
                "roc": [tuple(xy) for xy in point["roc"]],
            }
        )
        for point in data["points"]
    ]
    return BacktestReport(**{**data, "model": model, "points": points})


def suggestion_from_plain(data: dict) -> CalibrationReport:
    fits = data["suggestion"]
    suggestion = calibration.Suggestion(
        kind=fits["kind"],
        intercept=fits["intercept"],
        components=[
            calibration.ComponentFit(**{**fit, "spec": engine.ComponentSpec(**fit["spec"])})
            for fit in fits["components"]
        ],
    )
    later = data["later"]
    return CalibrationReport(
        **{
            **data,
            "suggestion": suggestion,
            "dates": [_date(d) for d in data["dates"]],
            "cross_validation": calibration.CrossValidation(
                folds=[calibration.Evaluation(**f) for f in data["cross_validation"]["folds"]]
            ),
            "later": calibration.Evaluation(**later) if later else None,
            "later_date": _date(data["later_date"]),
        }
    )


def moves_from_plain(data: dict) -> BookMoves:
    return BookMoves(
        **{
            **data,
            "as_of": dt.datetime.fromisoformat(data["as_of"]),
            "to_labels": [tuple(pair) for pair in data["to_labels"]],
            "matrix": [MatrixRow(**row) for row in data["matrix"]],
        }
    )
