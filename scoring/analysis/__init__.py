"""What a score would be, and how good it is: reads that never change stored scores.

- ``preview``: a draft version's scores for a sample of accounts, beside their latest;
- ``whatif``: the band moves of activating a draft, over the whole book;
- ``asof``: one account scored as it stood on a past day;
- ``backtest``: scores as of past dates against the churn that followed, and suggested
  weights fitted on it (``calibration``), with the statistics in ``stats``.

Every score here is computed by ``scoring/scorer.py``, as the recompute computes it,
inside a transaction that is rolled back.
"""
