"""The account list's filters: the page and its CSV export (``AccountFilter``), and
``GET /api/v1/accounts/`` (``AccountApiFilter``). The two name their parameters for
their readers (a form's choices; an integrator's query string) but every rule lives
once, in ``AccountRules`` and ``ORDERINGS``: a band, a level, a search, a sort mean the
same accounts in the same order through either door (tests/api/test_account_filters.py).
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.apps import apps
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.http import QueryDict
from django.utils import timezone

from accounts.models import Account, RiskLevel, User
from accounts.selectors import account_scope_q, churned_q, customers_q, owners_visible_to
from config.widgets import PlainSelect

RENEWAL_WINDOWS = [
    ("30", "Next 30 days"),
    ("60", "Next 60 days"),
    ("90", "Next 90 days"),
    ("180", "Next 180 days"),
    ("overdue", "Renewal date passed"),
]

# Sort keys, each with the ORM ordering it means; the page offers them by label, the API
# takes them (and ``created_at``) in ``ordering``. Accounts without a renewal date or a
# score come last either way, on PostgreSQL and SQLite alike; ties fall back on the
# name, then the id, so pages never overlap nor skip rows.
ORDERINGS: dict[str, list[str | OrderBy]] = {
    "name": ["name"],
    "-name": ["-name"],
    "-arr": ["-arr"],
    "arr": ["arr"],
    "renewal_date": [F("renewal_date").asc(nulls_last=True)],
    "-renewal_date": [F("renewal_date").desc(nulls_last=True)],
    # Scores live in the latest-health row (scoring.AccountHealth).
    "score": [F("health__score").asc(nulls_last=True)],
    "-score": [F("health__score").desc(nulls_last=True)],
    "trend_30d": [F("health__trend_30d").asc(nulls_last=True)],
    "-trend_30d": [F("health__trend_30d").desc(nulls_last=True)],
    "created_at": ["created_at"],
    "-created_at": ["-created_at"],
}
SORT_LABELS = {
    "name": "Name",
    "-name": "Name (Z–A)",
    "-arr": "ARR (highest first)",
    "arr": "ARR (lowest first)",
    "renewal_date": "Renewal (soonest first)",
    "-renewal_date": "Renewal (latest first)",
    "score": "Score (lowest first)",
    "-score": "Score (highest first)",
    "trend_30d": "30-day change (biggest drop first)",
    "-trend_30d": "30-day change (biggest rise first)",
}


def order_accounts(queryset: QuerySet[Account], keys: list[str]) -> QuerySet[Account]:
    """``queryset`` in the order of the sort ``keys`` (of ``ORDERINGS``), then name and id."""
    ordering: list[str | OrderBy] = []
    for key in keys:
        ordering.extend(ORDERINGS[key])
    return queryset.order_by(*ordering, "name", "pk")


# Risk levels of the confirmed band (the one vocabulary across scoring models), and the
# customers not scored yet. Churned accounts have no level: they are customers no more.
UNSCORED = "unscored"
LEVELS = [*RiskLevel.choices, (UNSCORED, "Not scored")]
CUSTOMERS = [("active", "Customers"), ("churned", "Churned")]

TOP_LEVEL = [("true", "Top-level only")]

TRENDS = [
    ("down10", "Dropped 10+ points (30 days)"),
    ("down", "Falling (30 days)"),
    ("flat", "Steady (30 days)"),
    ("up", "Rising (30 days)"),
]


class AccountRules:
    """What each filter of the account list means; both filter sets use these methods."""

    today: dt.date

    def filter_search(
        self, queryset: QuerySet[Account], name: str, value: str
    ) -> QuerySet[Account]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(domain__icontains=value) | Q(external_id__iexact=value)
        )

    def filter_level(
        self, queryset: QuerySet[Account], name: str, value: str | list[str]
    ) -> QuerySet[Account]:
        # The same customers the home page's level tiles count.
        levels = [value] if isinstance(value, str) else list(value)
        if not levels:
            return queryset
        return filter_by_level(queryset, levels, today=self.today)

    def filter_band(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet[Account]:
        # Across model versions (and segment models) a band is known by its name, in any
        # letter case; "none": not scored, or scored with no band. Customers only.
        queryset = queryset.filter(customers_q(on=self.today))
        if value.lower() == "none":
            return queryset.filter(Q(health__isnull=True) | Q(health__band__isnull=True))
        # The bands' ids first (a read of a small table), so that the planner filters
        # the latest health by band id, with its statistics, rather than by a name it
        # cannot estimate through the join: its estimate is the count the list shows.
        # Named by label, not imported: accounts depends on nothing above it, and the
        # saved views' service checks its queries through this module.
        band_model = apps.get_model("scoring", "Band")
        bands = band_model.objects.filter(name__iexact=value).values_list("pk", flat=True)
        return queryset.filter(health__band_id__in=list(bands))

    def filter_customer(
        self, queryset: QuerySet[Account], name: str, value: str
    ) -> QuerySet[Account]:
        if value == "churned":
            return queryset.filter(churned_q(on=self.today))
        return queryset.filter(customers_q(on=self.today))

    def filter_trend(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet[Account]:
        # "Steady" is within half a point either way, the same threshold as the arrows.
        if value == "down10":
            return queryset.filter(health__trend_30d__lte=-10)
        if value == "down":
            return queryset.filter(health__trend_30d__lt=-0.5)
        if value == "up":
            return queryset.filter(health__trend_30d__gt=0.5)
        return queryset.filter(health__trend_30d__gte=-0.5, health__trend_30d__lte=0.5)

    def filter_top_level(
        self, queryset: QuerySet[Account], name: str, value: str | bool | None
    ) -> QuerySet[Account]:
        # Parent companies and accounts on their own: no parent. The list's sort indexes
        # still serve it, keeping the rows without one (nearly all of a book).
        if value in (True, "true"):
            return queryset.filter(parent__isnull=True)
        return queryset

    def filter_renewal(
        self, queryset: QuerySet[Account], name: str, value: str
    ) -> QuerySet[Account]:
        if value == "overdue":
            return queryset.filter(renewal_date__lt=self.today)
        days = int(value)
        return queryset.filter(
            renewal_date__gte=self.today, renewal_date__lte=self.today + dt.timedelta(days=days)
        )


# The owner filter's value for the accounts nobody owns.
NO_OWNER = "none"


class AccountFilter(AccountRules, django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    segment = django_filters.ChoiceFilter(
        widget=PlainSelect, choices=Account.Segment.choices, empty_label="Any segment"
    )
    owner = django_filters.ModelChoiceFilter(
        widget=PlainSelect,
        queryset=User.objects.none(),
        empty_label="Any owner",
        null_label="No owner",
        null_value=NO_OWNER,
    )
    lifecycle_stage = django_filters.ChoiceFilter(
        widget=PlainSelect, choices=Account.Stage.choices, label="Stage", empty_label="Any stage"
    )
    renewal = django_filters.ChoiceFilter(
        widget=PlainSelect,
        choices=RENEWAL_WINDOWS,
        method="filter_renewal",
        label="Renewal",
        empty_label="Any renewal",
    )
    level = django_filters.ChoiceFilter(
        widget=PlainSelect,
        choices=LEVELS,
        method="filter_level",
        label="Risk level",
        empty_label="Any level",
    )
    band = django_filters.ChoiceFilter(
        widget=PlainSelect, choices=[], method="filter_band", label="Band", empty_label="Any band"
    )
    customer = django_filters.ChoiceFilter(
        widget=PlainSelect,
        choices=CUSTOMERS,
        method="filter_customer",
        label="Customer",
        empty_label="Customers and churned",
    )
    top_level = django_filters.ChoiceFilter(
        widget=PlainSelect,
        choices=TOP_LEVEL,
        method="filter_top_level",
        label="Hierarchy",
        empty_label="Parents and subsidiaries",
    )
    trend = django_filters.ChoiceFilter(
        widget=PlainSelect,
        choices=TRENDS,
        method="filter_trend",
        label="Trend",
        empty_label="Any trend",
    )
    sort = django_filters.ChoiceFilter(
        widget=PlainSelect,
        choices=list(SORT_LABELS.items()),
        method="filter_sort",
        label="Sort",
        empty_label=None,
    )

    class Meta:
        model = Account
        fields = [
            "q",
            "level",
            "band",
            "trend",
            "segment",
            "owner",
            "lifecycle_stage",
            "renewal",
            "customer",
            "top_level",
            "sort",
        ]

    def __init__(
        self,
        *args,
        owners: QuerySet[User] | None = None,
        bands: list[str] | None = None,
        today: dt.date | None = None,
        scope: Q | None = None,
        unowned: bool = True,
        **kwargs,
    ):
        """``scope`` (``account_scope_q``), when given, is applied here rather than to the
        queryset: a chosen owner (one of ``owners``, the people of the same scope)
        stands in for it, so the list is read along that owner's index alone.
        ``unowned``: offer "No owner" (to those whose scope holds such accounts)."""
        super().__init__(*args, **kwargs)
        self.scope = scope
        if not unowned:
            self.filters["owner"].extra["null_label"] = None
        if owners is not None:
            owner = self.filters["owner"]
            assert isinstance(owner, django_filters.ModelChoiceFilter)
            owner.queryset = owners
        # Band names come from the scoring models, which the page passes in: across
        # model versions (and segment models) a band is known by its name.
        names = list(bands or [])
        self.filters["band"].extra["choices"] = [(n, n) for n in names] + [("none", "Not scored")]
        self.today = today or timezone.localdate()

    def filter_sort(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet[Account]:
        # Applied last in ``qs`` below, so every other filter has narrowed the set first.
        return queryset

    @property
    def qs(self) -> QuerySet[Account]:
        if self.is_bound and not self.form.is_valid():
            # django-filter would drop the unreadable filter and list everything; under
            # an error message that reads as if the filter had been applied. An owner
            # outside the user's scope is such a value: it matches nothing.
            return Account.objects.none()
        key = self.form.cleaned_data.get("sort") if self.is_bound else None
        found = super().qs
        owner = self.form.cleaned_data.get("owner") if self.is_bound else None
        if self.scope is not None and not isinstance(owner, User):
            found = found.filter(self.scope)
        return order_accounts(found, [key or "name"])

    def normal_query(self) -> str:
        """The filters of a valid bound form as a query string in one form: the list's
        fields in their order, values as the form reads them back (an owner by id),
        empty ones left out and the sort always given. The same filters, however they
        were typed, are then the same link (the saved views store it)."""
        normal = QueryDict(mutable=True)
        cleaned = self.form.cleaned_data if self.is_bound else {}
        for name in self.form.fields:
            value = cleaned.get(name)
            if value in (None, ""):
                continue
            normal[name] = str(value.pk) if isinstance(value, User) else str(value)
        normal.setdefault("sort", "name")
        return normal.urlencode()

    def error_summary(self) -> list[str]:
        """Each unreadable filter as "Label: reason", for the page and the CSV export."""
        labels = {name: field.label for name, field in self.form.fields.items()}
        return [
            f"{labels.get(name, name)}: {' '.join(str(error) for error in errors)}"
            for name, errors in self.form.errors.items()
        ]


def filter_by_level(
    queryset: QuerySet[Account], levels: list[str], *, today: dt.date
) -> QuerySet[Account]:
    """Customers whose confirmed band is at one of ``levels`` (``UNSCORED``: not scored)."""
    wanted = Q(health__level__in=[level for level in levels if level != UNSCORED])
    if UNSCORED in levels:
        wanted |= Q(health__isnull=True) | Q(health__level="")
    return queryset.filter(customers_q(on=today)).filter(wanted)


class _OrderingFilter(django_filters.OrderingFilter):
    """``ordering=-arr,name``: the keys of ``ORDERINGS``, through ``order_accounts``."""

    def filter(self, qs: QuerySet[Account], value: list[str] | None) -> QuerySet[Account]:
        keys = [key for key in value or [] if key]  # "name," leaves an empty item
        return order_accounts(qs, keys) if keys else qs


class AccountApiFilter(AccountRules, django_filters.FilterSet):
    """GET /api/v1/accounts/ query parameters.

    ``band`` and the ``score`` ordering read the account's latest health through the
    ``health`` relation by name (the scoring app's AccountHealth): this module does not
    import scoring, so accounts keeps depending on nothing above it.
    """

    band = django_filters.CharFilter(
        method="filter_band",
        help_text="Name of the confirmed band of the account's latest health score, e.g. "
        "At-risk (any letter case); none: not scored yet. Customers only.",
    )
    level = django_filters.MultipleChoiceFilter(
        choices=LEVELS,
        method="filter_level",
        help_text="Risk level of the confirmed band — healthy, neutral, at_risk, critical — "
        "or unscored; repeat the parameter for several (level=at_risk&level=critical). "
        "Customers only: churned accounts have no level.",
    )

    segment = django_filters.ChoiceFilter(choices=Account.Segment.choices, help_text="Segment.")
    owner = django_filters.CharFilter(
        field_name="owner__username", help_text="Username of the owner CSM."
    )
    renewal_before = django_filters.DateFilter(
        field_name="renewal_date",
        lookup_expr="lte",
        help_text="Renewal date on or before this date (YYYY-MM-DD).",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        help_text="Name or domain containing the text, or an exact external id.",
    )
    top_level = django_filters.BooleanFilter(
        method="filter_top_level",
        help_text="`true`: only accounts without a parent (parent companies and accounts "
        "on their own); `false` or left out: every account.",
    )
    ordering = _OrderingFilter(
        fields=[(key, key) for key in ORDERINGS if not key.startswith("-")],
        help_text="Sort key; prefix with '-' for descending. Default: name. By `score`, "
        "accounts not scored yet come last either way.",
    )

    class Meta:
        model = Account
        fields = [
            "band",
            "level",
            "segment",
            "owner",
            "renewal_before",
            "search",
            "top_level",
            "ordering",
        ]

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()


def account_list_filter(
    *, user: User, data, bands: list[str] | None = None, today: dt.date | None = None
) -> AccountFilter:
    """The account list's filter as the list page builds it for ``user``: every account,
    narrowed by their scope — or, when they chose an owner among those they may see, by
    that owner alone — with the owners they may see, and "No owner" for those whose scope
    holds such accounts. ``data`` None: the filter unbound (the whole book). The page,
    the export, bulk actions, saved views and the plan tests use it."""
    return AccountFilter(
        data,
        queryset=Account.objects.select_related("owner", "health__band"),
        scope=account_scope_q(user=user),
        unowned=user.is_manager or user.is_admin,
        owners=owners_visible_to(user=user),
        bands=bands,
        today=today,
    )
