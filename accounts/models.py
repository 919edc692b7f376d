"""Customer accounts and the people who look after them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone


class RiskLevel(models.TextChoices):
    """The one risk vocabulary across scoring models: every band maps to one of these,
    so playbooks, filters, dashboards and the API speak alike whatever model scored an
    account. Ordered from best to worst (``RISK_ORDER``)."""

    HEALTHY = "healthy", "Healthy"
    NEUTRAL = "neutral", "Neutral"
    AT_RISK = "at_risk", "At risk"
    CRITICAL = "critical", "Critical"


# Best first: a higher number is a worse level.
RISK_ORDER: dict[str, int] = {level: rank for rank, level in enumerate(RiskLevel.values)}
# The levels that count towards "ARR at risk" and the at-risk tiles.
AT_RISK_LEVELS: tuple[str, ...] = (RiskLevel.AT_RISK, RiskLevel.CRITICAL)
RISK_COLORS: dict[str, str] = {
    RiskLevel.HEALTHY: "#16a34a",
    RiskLevel.NEUTRAL: "#d97706",
    RiskLevel.AT_RISK: "#dc2626",
    RiskLevel.CRITICAL: "#7f1d1d",
}


def levels_at_or_worse(level: str) -> list[str]:
    """``level`` and every worse one, e.g. at_risk → [at_risk, critical]."""
    return [other for other in RiskLevel.values if RISK_ORDER[other] >= RISK_ORDER[level]]


def levels_better_than(level: str) -> list[str]:
    return [other for other in RiskLevel.values if RISK_ORDER[other] < RISK_ORDER[level]]


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
    # The parent company (docs/hierarchies.md). Deleting it makes its subsidiaries
    # top-level rather than deleting them or refusing: they stay customers of their own.
    # Set through the write path only, which refuses a loop and a tree deeper than
    # HIERARCHY_MAX_DEPTH (accounts.services.validation).
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        db_index=False,  # the partial index below: most accounts have no parent
        help_text="The parent company, if this account is a subsidiary.",
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
    # Kept by the touches' write path (contacts.services: touch_log, touch_delete) so
    # that the list, the task cards and the page show it without reading the touches.
    last_touch_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the latest touch logged happened."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["owner", "name"]),
            # The list's default order for everyone who sees the whole book: a page reads
            # its rows in order from here instead of sorting the book.
            models.Index(fields=["name", "id"], name="account_name_id"),
            models.Index(fields=["segment"]),
            models.Index(fields=["renewal_date"]),
            models.Index(fields=["lifecycle_stage"]),
            # The few accounts whose churn date is still ahead: customers until then, read
            # live beside the book's figures, which file them as churned (scoring.figures).
            models.Index(
                fields=["churned_at"],
                condition=Q(churned_at__isnull=False),
                name="account_churned_at",
            ),
            # The list's other sorts (accounts.filters.ORDERINGS), each read in order from
            # an index for the whole book (a manager's teams walk these too, keeping
            # their owners' rows) and, led by the owner, for one CSM's book. A descending
            # walk of an ascending index serves "-arr". "Renewal (latest first)" keeps
            # accounts without a date last: its DESC NULLS LAST indexes are PostgreSQL's
            # only (migration 0006; SQLite takes no NULLS LAST in an index).
            models.Index(fields=["arr", "name", "id"], name="account_arr_name_id"),
            models.Index(fields=["owner", "arr"], name="account_owner_arr"),
            models.Index(fields=["owner", "renewal_date"], name="account_owner_renewal"),
            # A parent's subsidiaries, and whether a row of the list has any; only the
            # few accounts that have a parent are in it.
            models.Index(
                fields=["parent"], condition=Q(parent__isnull=False), name="account_parent"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(arr__gte=0), name="account_arr_not_negative"),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="account_external_id_not_empty"
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("pk")), name="account_not_its_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:detail", args=[self.pk])


class ArrChange(models.Model):
    """One change of an account's ARR, kept as history: written by the accounts write path
    (``accounts.services.writes``) in the transaction of the change, for every door. The
    retention figures read an account's ARR on any day from here (the latest change
    effective before it)."""

    class Source(models.TextChoices):
        INITIAL = "initial", "Before history was kept"
        IMPORT = "import", "CSV import"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        OUTCOME = "outcome", "Renewal outcome"
        PLAYBOOK = "playbook", "Playbook step"
        DEMO = "demo", "Demo data"
        OTHER = "other", "Other"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="arr_changes")
    effective_date = models.DateField(help_text="The day the new ARR holds from.")
    arr_before = models.DecimalField(max_digits=14, decimal_places=2)
    arr_after = models.DecimalField(max_digits=14, decimal_places=2)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.OTHER)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "effective_date", "id"]
        verbose_name = "ARR change"
        indexes = [
            # An account's ARR on a day: the latest change effective before it.
            models.Index(fields=["account", "effective_date", "id"], name="arr_change_account_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(arr_before__gte=0, arr_after__gte=0), name="arr_change_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.arr_before} → {self.arr_after} on {self.effective_date}"


class ApiToken(models.Model):
    """A credential for the REST API, stored as a SHA-256 hash: the raw token is shown once.

    The raw token reads ``vit_<prefix>_<secret>``. ``prefix`` is stored in clear to find
    the row (and to let an admin tell tokens apart); the hash of the whole raw token
    proves possession. A token with a ``user`` acts within that user's access scope; a
    token without one is an integration that reaches every account. Either way its
    ``scopes`` limit what it may do.
    """

    class Scope(models.TextChoices):
        ACCOUNTS_READ = "accounts:read", "Read accounts"
        ACCOUNTS_WRITE = "accounts:write", "Create, update and delete accounts"
        SIGNALS_WRITE = "signals:write", "Send signals"
        SCORES_READ = "scores:read", "Read health scores"
        TASKS_READ = "tasks:read", "Read tasks"
        TASKS_WRITE = "tasks:write", "Complete, snooze and update tasks"
        CONFIG_READ = "config:read", "Read metrics, scoring models and playbooks"
        CONFIG_WRITE = "config:write", "Change metrics, scoring models and playbooks"

    name = models.CharField(max_length=100, help_text="What uses it, e.g. “Salesforce sync”.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField("SHA-256 of the token", max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        # Never SET_NULL: a token without a user reaches every account.
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Acts within this person's access scope. Empty: every account.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} (vit_{self.prefix}_…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class SavedView(models.Model):
    """A named filter and sort of the account list, opened as ``/accounts/?<query>``.

    ``query`` is stored normalised (``accounts.services.saved_views``): the list's own
    parameters only, in the form's order, checked by its filter form when saved, so
    the link a view opens is the one a person would have shared. With a ``team`` it is
    shared with that team's members and managers; without, it is its owner's alone.
    A deleted team leaves its views personal rather than taking them with it.
    """

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="saved_views",
        help_text="Shared with this team's members and managers. Empty: personal.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            # "Renewals" and "renewals" would be two entries no one can tell apart.
            models.UniqueConstraint(Lower("name"), "owner", name="saved_view_name_per_owner"),
            models.CheckConstraint(condition=~Q(name=""), name="saved_view_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        url = reverse("accounts:list")
        return f"{url}?{self.query}" if self.query else url
