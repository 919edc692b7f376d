"""The book's figures: summary rows that the home and team pages read instead of
aggregating the whole book on every view.

Each row counts the accounts (and their ARR) that share one key. Database triggers keep
them up to date in the same statement's transaction as every write to
``accounts_account`` or ``scoring_accounthealth`` — the ORM, ``queryset.update()``,
bulk inserts and the recompute's raw SQL alike (``scoring/figures.py`` holds the SQL and
says why triggers). ``churned`` is "has a churn date", which does not depend on the day:
the few accounts whose churn date is still ahead are read live on the day
(``scoring.figures``), so the figures are exact on any date without a nightly fix-up.

``owner_id`` is the account's owner, 0 for none: a plain integer (no foreign key), so a
page sums the owners of its scope and nothing here holds a lock on users.
"""

from __future__ import annotations

from django.db import models

from accounts.models import Account, RiskLevel


class BookFigure(models.Model):
    """Accounts and ARR per owner, segment, confirmed risk level ("" when not scored)
    and churn."""

    pk = models.CompositePrimaryKey("owner_id", "segment", "level", "churned")
    owner_id = models.IntegerField(help_text="The owner's id; 0: no owner.")
    segment = models.CharField(max_length=20, choices=Account.Segment.choices)
    level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    churned = models.BooleanField(help_text="The accounts have a churn date (past or future).")
    accounts = models.BigIntegerField()
    arr_cents = models.BigIntegerField("ARR in cents")

    class Meta:
        db_table = "scoring_bookfigure"

    def __str__(self) -> str:
        return f"owner {self.owner_id} {self.segment} {self.level or '-'}: {self.accounts}"


class ScoreFigure(models.Model):
    """Scored accounts per owner, model version, churn and ``bucket``: the floor of the
    latest score. Every distribution the pages draw cuts scores at whole points (see
    ``scoring.selectors.score_distributions``), so these counts give it exactly."""

    pk = models.CompositePrimaryKey("owner_id", "model_id", "churned", "bucket")
    owner_id = models.IntegerField(help_text="The owner's id; 0: no owner.")
    model_id = models.IntegerField()
    churned = models.BooleanField()
    bucket = models.BigIntegerField(help_text="floor(score)")
    accounts = models.BigIntegerField()

    class Meta:
        db_table = "scoring_scorefigure"

    def __str__(self) -> str:
        return f"owner {self.owner_id} model {self.model_id} [{self.bucket}]: {self.accounts}"
