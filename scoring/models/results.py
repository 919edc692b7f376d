"""What scoring produces: every computation of an account's health (the history), the
latest health per account, and the band changes and score drops found on the way."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account, RiskLevel
from scoring.models.configuration import Band, ScoringModel
from scoring.models.runs import ScoringRun


class FlapState(models.Model):
    """Where flap control stands after a scoring (scoring.engine.confirm_band), beside the
    raw and the confirmed band: kept on every history row and on the latest health."""

    # A band change on its way to being confirmed: the band, how many scorings in a
    # row it has held, since when. Empty when the score is in the confirmed band.
    pending_band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    pending_count = models.PositiveSmallIntegerField(default=0)
    pending_since = models.DateTimeField(null=True)
    # The first score under another model (a new version was activated, or the account
    # moved to another model's filter): its band is a new baseline, not a change.
    rebaseline = models.BooleanField(default=False)

    class Meta:
        abstract = True


class HealthScore(FlapState):
    """One computation of one account's health: the history row.

    ``breakdown`` is a list aligned with the model version's components (by position):
    ``[raw value, component score or points]`` with ``null`` where data was missing.
    Model versions are immutable once active, so weights and rules are read from the
    version; contributions are derived (see ``scoring.selectors.score_breakdown``).
    """

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on account and run: healthscore_account_time and
    # healthscore_once_per_run start with them and serve the same lookups. Each index
    # is written for every history row, a million a night; and with a separate run
    # index the planner, blind to a run still being written, read the whole run for
    # every chunk instead of the chunk's slice of healthscore_once_per_run.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="health_scores", db_index=False
    )
    run = models.ForeignKey(
        ScoringRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scores",
        db_index=False,
    )
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="scores")
    score = models.FloatField(null=True, help_text="Empty when no component had data.")
    # The band the score falls in (raw), and the band the account is in after flap
    # control (scoring.engine.confirm_band): the confirmed band is what counts.
    band = models.ForeignKey(Band, null=True, on_delete=models.PROTECT, related_name="+")
    confirmed_band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    completeness = models.FloatField(help_text="Share (0–1) of the weight that had data.")
    breakdown = models.JSONField(default=list)
    # What moved the score since the account's previous one (scoring.attribution):
    # {"from": previous score id, "change": points or null, "parts": [per component,
    # aligned like breakdown] or null when the model version changed}. Null: first score.
    delta = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            # With the id, each partition's index yields an account's scores in the order
            # "the latest before a moment" reads them (computed_at, then id), so that
            # lookup stops at the first row of each partition instead of sorting all the
            # account's rows (scoring.attribution).
            models.Index(fields=["account", "computed_at", "id"], name="healthscore_account_time"),
        ]
        constraints = [
            # One score per account per run: a redelivered chunk cannot add a second. A
            # run writes every score at its own as-of, so computed_at changes nothing in
            # the rule; it is there because on PostgreSQL the table is partitioned by it
            # and a unique key of a partitioned table must hold the partition key
            # (scoring/partitions.py).
            models.UniqueConstraint(
                fields=["run", "account", "computed_at"], name="healthscore_once_per_run"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.score} @ {self.computed_at:%Y-%m-%d}"


class AccountHealth(FlapState):
    """The latest health of an account, kept narrow so a nightly update of a million
    rows writes as little as possible; pages join it for score, band and trend."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.CASCADE, related_name="health"
    )
    # No database constraint: on PostgreSQL the history is partitioned, and a foreign key
    # to it would need a unique key on id alone (scoring/partitions.py says how
    # integrity is kept instead).
    health_score = models.ForeignKey(
        HealthScore, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    model = models.ForeignKey(ScoringModel, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField(null=True)
    # The confirmed band (what lists, tiles and playbooks go by) and its risk level,
    # the raw band, and flap control's state as in the history row. Band lookups use
    # accounthealth_band_score, which starts with the band.
    band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    raw_band = models.ForeignKey(
        Band, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    completeness = models.FloatField()
    computed_at = models.DateTimeField()
    trend_7d = models.FloatField(null=True, help_text="Change against the score 7 days earlier.")
    trend_30d = models.FloatField(null=True)
    trend_90d = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["band", "score"], name="accounthealth_band_score"),
            models.Index(fields=["level", "score"], name="accounthealth_level_score"),
            models.Index(fields=["score"], name="accounthealth_score"),
            models.Index(fields=["trend_30d"], name="accounthealth_trend30"),
            # The account list's descending sorts keep the unscored last (DESC NULLS
            # LAST, which a backward walk of these would put first): their indexes are
            # PostgreSQL's only (migration 0012).
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.score}"


class ScoreEvent(models.Model):
    """A confirmed band change or a score drop found by a computation: exactly one per
    kind per computation (the unique constraint), consumed by playbooks through
    ``claimed_at``. Bands are the confirmed ones (after flap control)."""

    class Kind(models.TextChoices):
        BAND_CHANGED = "band_changed", "Band changed"
        SCORE_DROPPED = "score_dropped", "Score dropped"

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="score_events")
    # No database constraint, as AccountHealth.health_score (scoring/partitions.py).
    health_score = models.ForeignKey(
        HealthScore, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    run = models.ForeignKey(
        ScoringRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    from_band = models.ForeignKey(
        Band, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_band = models.ForeignKey(
        Band, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score_before = models.FloatField(null=True)
    score_after = models.FloatField(null=True)
    # Caused by a change of scoring model rather than by the account's data: recorded,
    # but playbooks act on it only when they opt in.
    rebaseline = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "created_at"], name="scoreevent_account_time"),
            # The home page's latest band changes of the book: walked newest first, each
            # event's account checked in scope, until the page has its few.
            models.Index(fields=["kind", "created_at", "id"], name="scoreevent_kind_time"),
            models.Index(
                fields=["id"], condition=Q(claimed_at__isnull=True), name="scoreevent_unclaimed"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["health_score", "kind"], name="scoreevent_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.account_id}"

    @property
    def delta(self) -> float | None:
        if self.score_before is None or self.score_after is None:
            return None
        return self.score_after - self.score_before

    @property
    def from_level(self) -> str:
        # No query when the band is empty: Django answers None without one.
        band = self.from_band
        return band.level if band else ""

    @property
    def to_level(self) -> str:
        band = self.to_band
        return band.level if band else ""
