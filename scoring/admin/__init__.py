"""The scoring admin, by topic (each module registers its pages):

- ``metrics``: metrics, signals, CSM sentiment;
- ``versions``: scoring model versions with components and bands, previews, grades;
- ``backtest``: backtests, suggested weights and the whole-book what-if of a version;
- ``runs``: recomputes and the form that starts one;
- ``results``: score history, latest health, score events;
- ``retention``: the retention policy and the compactions that applied it.

Every change goes through ``scoring.services``, as the API's do.
"""

from scoring.admin import metrics, results, retention, runs, versions

__all__ = ["metrics", "results", "retention", "runs", "versions"]
