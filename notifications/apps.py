from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What tells a person about work: in-app notifications (the bell) and their
    settings. It stands on accounts and scoring (it reads their score events, and hears
    ``accounts.signals``); playbooks call it when a task is given to someone or a
    playbook writes them a note."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from accounts.signals import accounts_reassigned
        from notifications.receivers import accounts_given_notify

        accounts_reassigned.connect(accounts_given_notify, dispatch_uid="accounts_given_notify")
