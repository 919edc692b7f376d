from django.apps import AppConfig


class SamplesConfig(AppConfig):
    """Loaders of public customer samples with a churn label (``import_telco``), to score
    and backtest on real data. No tables of its own: it writes through the accounts and
    scoring services, like any import."""

    name = "samples"
    verbose_name = "Sample data"
