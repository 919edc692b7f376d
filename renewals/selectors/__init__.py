"""Reads of renewals: what is coming up (``upcoming``) and the retention figures
(``retention``)."""

from renewals.selectors.retention import (
    GROUPINGS,
    RetentionFigures,
    RetentionRow,
    retention_figures,
)
from renewals.selectors.upcoming import (
    DEFAULT_WINDOW,
    PAGE_SIZE,
    WINDOWS,
    Position,
    account_outcomes,
    outcome_losses,
    reasons_offered,
    renewals_upcoming,
)

__all__ = [
    "DEFAULT_WINDOW",
    "GROUPINGS",
    "PAGE_SIZE",
    "WINDOWS",
    "Position",
    "RetentionFigures",
    "RetentionRow",
    "account_outcomes",
    "outcome_losses",
    "reasons_offered",
    "renewals_upcoming",
    "retention_figures",
]
