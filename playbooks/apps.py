from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Playbooks and tasks"

    def ready(self) -> None:
        # A churn recorded as a renewal outcome closes the account's open work at once,
        # by the same rule as the periodic tick (renewals cannot import playbooks).
        from playbooks.services.closing import work_close_for_churned
        from renewals.services import CHURN_FOLLOWERS

        def close(account, now) -> None:
            work_close_for_churned(now=now, account_ids=[account.pk])

        if not any(getattr(f, "__name__", "") == "close" for f in CHURN_FOLLOWERS):
            CHURN_FOLLOWERS.append(close)
