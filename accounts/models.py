"""Customer accounts and the people who look after them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.urls import reverse


class User(AbstractUser):
    """A member of the customer success team (or CS ops).

    ``role`` decides the access scope (see ``accounts.selectors``): a CSM sees the
    accounts they own, a manager those owned by members of the teams they manage,
    an admin everything. Superusers are admins whatever their role says.
    """

    class Role(models.TextChoices):
        CSM = "csm", "CSM"
        MANAGER = "manager", "CS manager"
        ADMIN = "admin", "Admin / CS ops"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CSM)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        # CS ops configure everything in Django admin, which needs is_staff to log in.
        if self.role == self.Role.ADMIN:
            self.is_staff = True
        super().save(*args, **kwargs)

    def has_perm(self, perm: str, obj=None) -> bool:
        # An admin by role holds every permission, as a superuser does.
        if self.is_active and self.role == self.Role.ADMIN:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and self.role == self.Role.ADMIN:
            return True
        return super().has_module_perms(app_label)

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    managers = models.ManyToManyField(User, related_name="managed_teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """A customer company. ``external_id`` is its id in the CRM, used by integrations."""

    class Segment(models.TextChoices):
        SMB = "smb", "SMB"
        MID_MARKET = "mid_market", "Mid-market"
        ENTERPRISE = "enterprise", "Enterprise"

    class Stage(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ADOPTING = "adopting", "Adopting"
        MATURE = "mature", "Mature"
        RENEWING = "renewing", "Renewing"
        CHURNED = "churned", "Churned"

    external_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    segment = models.CharField(max_length=20, choices=Segment.choices, default=Segment.SMB)
    plan = models.CharField(max_length=100, blank=True)
    lifecycle_stage = models.CharField(
        max_length=20, choices=Stage.choices, default=Stage.ONBOARDING
    )
    arr = models.DecimalField("ARR", max_digits=14, decimal_places=2, default=0)
    contract_start = models.DateField(null=True, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    churned_at = models.DateField(null=True, blank=True, help_text="Set when the customer leaves.")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["segment"]),
            models.Index(fields=["renewal_date"]),
            models.Index(fields=["lifecycle_stage"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(arr__gte=0), name="account_arr_not_negative"),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="account_external_id_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:detail", args=[self.pk])
