from django.apps import AppConfig


class RenewalsConfig(AppConfig):
    """Renewals: what happened at each account's renewal date (renewed, expanded,
    downgraded, churned, with reasons from an admin-kept list), applied to the account
    through its write path, and the retention figures read from outcomes and ARR history.
    It stands on accounts and scoring (the renewals page's risk level); playbooks reads
    its outcomes for a trigger."""

    name = "renewals"
    verbose_name = "Renewals"

    def ready(self) -> None:
        # Backtests may label by outcome; scoring cannot import renewals, so it is told.
        from renewals.selectors import outcome_losses
        from scoring.analysis.backtest import LABEL_SOURCES

        LABEL_SOURCES["outcomes"] = ("Churned or downgraded (renewal outcomes)", outcome_losses)
