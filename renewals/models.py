"""Renewal outcomes and the reasons given for them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account


class RenewalReason(models.Model):
    """Why a renewal went as it did (price, champion left, more seats, …): an admin-kept
    list, in ``order``. ``applies_to`` says whether it explains a loss (churn or
    downgrade), a gain (expansion) or either; an inactive reason stays on the outcomes
    that gave it but is offered no more."""

    class AppliesTo(models.TextChoices):
        LOSS = "loss", "Churn or downgrade"
        GROWTH = "growth", "Expansion"
        ANY = "any", "Any outcome"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80, unique=True)
    applies_to = models.CharField(max_length=6, choices=AppliesTo.choices, default=AppliesTo.ANY)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class RenewalOutcome(models.Model):
    """What happened at one renewal of an account: one outcome per (account, renewal
    date). Written by ``renewals.services.outcome_record`` only, which applies it to the
    account in the same transaction. The database holds the ARR to its kind."""

    class Kind(models.TextChoices):
        RENEWED = "renewed", "Renewed"
        EXPANDED = "expanded", "Expanded"
        DOWNGRADED = "downgraded", "Downgraded"
        CHURNED = "churned", "Churned"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="outcomes")
    renewal_date = models.DateField(help_text="The renewal date the outcome is for.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    arr_before = models.DecimalField("ARR before", max_digits=14, decimal_places=2)
    arr_after = models.DecimalField("new ARR", max_digits=14, decimal_places=2)
    reasons = models.ManyToManyField(RenewalReason, blank=True, related_name="outcomes")
    note = models.TextField(blank=True)
    next_renewal = models.DateField(null=True, blank=True, help_text="The renewal date after it.")
    churned_at = models.DateField(null=True, blank=True, help_text="When a churned customer left.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="renewal_outcomes",
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-renewal_date", "-id"]
        indexes = [
            models.Index(fields=["account", "renewal_date"], name="outcome_account_date"),
            # The retention figures read a period's outcomes; the trigger the new ones.
            models.Index(fields=["renewal_date"], name="outcome_renewal_date"),
            models.Index(fields=["recorded_at"], name="outcome_recorded_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "renewal_date"], name="outcome_once"),
            models.CheckConstraint(
                condition=Q(arr_before__gte=0, arr_after__gte=0), name="outcome_arr_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="renewed", arr_after=F("arr_before"))
                    | Q(kind="expanded", arr_after__gt=F("arr_before"))
                    | Q(kind="downgraded", arr_after__lt=F("arr_before"), arr_after__gt=0)
                    | Q(kind="churned", arr_after=0, churned_at__isnull=False)
                ),
                name="outcome_arr_fits_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.get_kind_display().lower()} on {self.renewal_date}"

    @property
    def arr_change(self):
        return self.arr_after - self.arr_before
