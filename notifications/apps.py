from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What tells a person about work: in-app notifications (the bell) and their
    settings. It stands on accounts and scoring (it reads their score events); playbooks
    call it when a task is given to someone or a playbook writes them a note."""

    name = "notifications"
    verbose_name = "Notifications"
