from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The CSM's day: what to work on next, ranked by a priority an admin weighs. It
    reads the accounts, their latest health and their tasks; it writes only its own
    settings."""

    name = "workspace"
    verbose_name = "Workspace"
