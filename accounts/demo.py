"""A realistic demo book: the team, its people and their accounts.

``demo_seed`` builds the accounts part and then runs the steps other apps register
with ``demo_step`` in their own ``demo`` module (signal history, scoring models,
playbooks, scores, …). Steps are found by importing ``<app>.demo`` for every
installed app, so accounts never imports the apps above it.

Everything is reproducible: the same ``seed`` and ``today`` give the same data, and
running again updates the demo rows in place (external ids ``demo-00001`` …) rather
than adding more.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from accounts.models import Account, Team, User
from accounts.services import accounts_save

DEMO_EXTERNAL_ID_PREFIX = "demo-"
DEMO_TEAM = "Customer Success"
DEMO_PASSWORD = "vitals-demo"
DEMO_CSMS = ("csm1", "csm2", "csm3", "csm4")

# username -> (first name, last name, role, superuser)
DEMO_PEOPLE: dict[str, tuple[str, str, str, bool]] = {
    "admin": ("Ada", "Ops", User.Role.ADMIN, True),
    "manager": ("Morgan", "Reyes", User.Role.MANAGER, False),
    "csm1": ("Casey", "Nguyen", User.Role.CSM, False),
    "csm2": ("Jordan", "Keller", User.Role.CSM, False),
    "csm3": ("Riley", "Okafor", User.Role.CSM, False),
    "csm4": ("Sam", "Lindqvist", User.Role.CSM, False),
}

# segment -> (share of accounts, ARR range, ARR rounding, plans, employees range)
SEGMENTS: dict[str, tuple[float, tuple[int, int], int, tuple[str, ...], tuple[int, int]]] = {
    Account.Segment.SMB: (0.55, (3_000, 25_000), 100, ("Starter", "Growth"), (5, 200)),
    Account.Segment.MID_MARKET: (
        0.30,
        (25_000, 150_000),
        500,
        ("Growth", "Business"),
        (200, 2_000),
    ),
    Account.Segment.ENTERPRISE: (
        0.15,
        (150_000, 1_200_000),
        1_000,
        ("Business", "Enterprise"),
        (2_000, 50_000),
    ),
}
CHURN_SHARE = (0.08, 0.12)
UNOWNED_SHARE = 0.03

# Word lists kept as prose: easier to read and extend than a hundred quoted items.
_FIRST_WORDS = (  # noqa: SIM905
    "Acme Amber Apex Arbor Argo Aster Atlas Aurora Beacon Birch Blue Bolt Brick Bright "
    "Canyon Cedar Cinder Cirrus Cobalt Comet Copper Coral Crest Crystal Delta Drift Echo "
    "Ember Everest Falcon Fern Fjord Flint Forge Fox Garnet Glacier Granite Harbor Hazel "
    "Helix Horizon Indigo Iris Iron Jade Juniper Kestrel Lantern Larch Linden Lumen Lynx "
    "Maple Meadow Mercury Mesa Meteor Nimbus Noble North Nova Oak Onyx Orbit Orchid Otter "
    "Pebble Pine Pioneer Pixel Polar Prairie Quartz Quill Raven Redwood Ridge River Sable "
    "Sage Slate Solar Sparrow Spruce Summit Swift Tidal Timber Topaz Tundra Umber Vector "
    "Velvet Willow Zephyr Zinc"
).split()
_SECOND_WORDS = (  # noqa: SIM905
    "Analytics Apps Bank Bio Brands Capital Cloud Commerce Consulting Data Design Devices "
    "Dynamics Energy Engineering Foods Freight Games Goods Health Holdings Homes Industries "
    "Insights Insurance Labs Learning Legal Logistics Media Medical Metrics Mobility "
    "Motors Networks Optics Partners Payments Pharma Photonics Power Retail Robotics "
    "Security Software Solutions Studios Supply Systems Telecom Therapeutics Travel "
    "Ventures Works"
).split()
_LEGAL_FORMS = ("", "Inc", "Ltd", "GmbH", "Group", "Co", "SA", "AB", "BV", "LLC")
_TLDS = ("com", "com", "com", "io", "co", "net", "de", "co.uk", "fr", "se")
_INDUSTRIES = (
    "Software",
    "Financial services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Logistics",
    "Media",
    "Education",
    "Professional services",
    "Energy",
)
_REGIONS = ("North America", "North America", "EMEA", "EMEA", "APAC", "LATAM")


@dataclass
class DemoBook:
    """What the demo holds so far; each step reads it and may add to ``extra``."""

    seed: int
    days: int
    today: dt.date
    # The moment "now" of the demo: today at the current time of day.
    now: dt.datetime
    users: dict[str, User]
    team: Team
    accounts: list[Account]
    created: int = 0
    updated: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def rng(self, step: str) -> random.Random:
        """A random source of the step's own, so adding a step changes no other step."""
        return random.Random(f"{self.seed}:{step}")


@dataclass(frozen=True)
class DemoStep:
    name: str
    order: int
    run: Callable[[DemoBook], str | None]
    reset: Callable[[], None] | None = None


_steps: dict[str, DemoStep] = {}


def demo_step(*, name: str, order: int, reset: Callable[[], None] | None = None):
    """Register ``run(book) -> summary line or None`` as a step of ``seed_demo``.

    Steps run in ``order`` after the accounts exist (their own ``reset`` runs on
    ``--reset``, before the demo accounts are deleted). A step must be idempotent:
    seeding twice must not add anything the first run added.
    """

    def register(run: Callable[[DemoBook], str | None]) -> Callable[[DemoBook], str | None]:
        _steps[name] = DemoStep(name=name, order=order, run=run, reset=reset)
        return run

    return register


def demo_steps() -> list[DemoStep]:
    autodiscover_modules("demo")
    return sorted(_steps.values(), key=lambda step: (step.order, step.name))


def demo_seed(
    *,
    accounts: int,
    days: int,
    password: str,
    seed: int,
    today: dt.date,
    reset: bool = False,
    on_step: Callable[[str], Any] | None = None,
) -> tuple[DemoBook, list[str]]:
    """Build the demo book and run every registered step; returns it and their summaries.

    Steps: with ``reset``, each step's reset and then the deletion of the demo
    accounts; the people and the team (``demo_people_ensure``); ``accounts`` demo
    accounts (``demo_accounts_ensure``); then the registered steps in order.
    ``on_step`` is told the name of each step as it starts.
    """
    steps = demo_steps()
    if reset:
        for step in steps:
            if step.reset is not None:
                step.reset()
        demo_accounts_delete()
    users, team = demo_people_ensure(password=password)
    now = timezone.make_aware(dt.datetime.combine(today, timezone.localtime().time()))
    book = DemoBook(seed=seed, days=days, today=today, now=now, users=users, team=team, accounts=[])
    demo_accounts_ensure(book=book, count=accounts)
    summaries = []
    for step in steps:
        if on_step is not None:
            on_step(step.name)
        summary = step.run(book)
        if summary:
            summaries.append(summary)
    return book, summaries


def demo_accounts_delete() -> int:
    deleted, _ = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX).delete()
    return deleted


@transaction.atomic
def demo_people_ensure(*, password: str) -> tuple[dict[str, User], Team]:
    """Create or update the demo people and their team; every one gets ``password``.

    The password is hashed once and the hash shared: hashing is deliberately slow.
    """
    password_hash = make_password(password)
    existing = {user.username: user for user in User.objects.filter(username__in=DEMO_PEOPLE)}
    users: dict[str, User] = {}
    for username, (first_name, last_name, role, superuser) in DEMO_PEOPLE.items():
        user = existing.get(username) or User(username=username)
        user.first_name, user.last_name = first_name, last_name
        user.email = f"{username}@example.com"
        user.role = role
        user.is_superuser = superuser
        user.is_staff = superuser
        user.is_active = True
        user.password = password_hash
        user.save()
        users[username] = user
    team, _ = Team.objects.get_or_create(name=DEMO_TEAM)
    team.members.add(*(users[username] for username in DEMO_CSMS))
    team.managers.add(users["manager"])
    return users, team


def demo_accounts_ensure(*, book: DemoBook, count: int) -> None:
    """Upsert ``count`` demo accounts into ``book.accounts`` (ordered by external id)."""
    owners = [book.users[username] for username in DEMO_CSMS]
    rows = demo_account_rows(count=count, rng=book.rng("accounts"), today=book.today, owners=owners)
    result = accounts_save(rows=rows, arr_source="demo")
    book.created, book.updated = len(result.created), len(result.updated)
    # By prefix, not by an IN list of every id: SQLite caps the parameters of a query.
    wanted = {row["external_id"] for row in rows}
    book.accounts = [
        account
        for account in Account.objects.filter(
            external_id__startswith=DEMO_EXTERNAL_ID_PREFIX
        ).order_by("external_id")
        if account.external_id in wanted
    ]
    # The owners are already in hand: attach them rather than join them in again.
    owners_by_pk = {owner.pk: owner for owner in owners}
    for account in book.accounts:
        if account.owner_id is not None:
            account.owner = owners_by_pk[account.owner_id]


def demo_account_rows(
    *, count: int, rng: random.Random, today: dt.date, owners: list[User]
) -> list[dict[str, Any]]:
    """``count`` believable accounts as rows for ``accounts_save``: the demo book goes
    through the same rules as an import, so what it shows could have been imported."""
    segments = list(SEGMENTS)
    weights = [SEGMENTS[segment][0] for segment in segments]
    churned = set(rng.sample(range(count), k=round(count * rng.uniform(*CHURN_SHARE))))
    names: set[str] = set()
    rows = []
    for index in range(count):
        segment = rng.choices(segments, weights)[0]
        _, (arr_low, arr_high), step, plans, (staff_low, staff_high) = SEGMENTS[segment]
        name, domain = _company(rng, names)
        # Log-uniform: many small contracts, a few large ones, as in a real book.
        arr = math.exp(rng.uniform(math.log(arr_low), math.log(arr_high)))
        row: dict[str, Any] = {
            "external_id": f"{DEMO_EXTERNAL_ID_PREFIX}{index + 1:05d}",
            "name": name,
            "domain": domain,
            "owner": None if rng.random() < UNOWNED_SHARE else rng.choice(owners).username,
            "segment": segment,
            "plan": rng.choice(plans),
            "arr": Decimal(round(arr / step) * step),
            "attributes": {
                "industry": rng.choice(_INDUSTRIES),
                "region": rng.choice(_REGIONS),
                "employees": round(
                    math.exp(rng.uniform(math.log(staff_low), math.log(staff_high)))
                ),
            },
        }
        row.update(_contract(rng, today=today, churned=index in churned))
        rows.append(row)
    return rows


def _company(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    for _ in range(50):
        first, second = rng.choice(_FIRST_WORDS), rng.choice(_SECOND_WORDS)
        form = rng.choice(_LEGAL_FORMS)
        name = f"{first} {second} {form}".strip()
        if name not in taken:
            break
    else:
        # The word lists hold ~50,000 names; past that, number the repeats.
        name = f"{name} {len(taken) + 1}"
    taken.add(name)
    slug = f"{first}{second}".lower()
    suffix = "" if form in ("", "Inc", "Group", "Co") else form.lower()
    return name, f"{slug}{suffix}.{rng.choice(_TLDS)}"


def _contract(rng: random.Random, *, today: dt.date, churned: bool) -> dict[str, Any]:
    """Contract dates and lifecycle stage: annual contracts renewing on their anniversary."""
    if churned:
        churned_at = today - dt.timedelta(days=rng.randint(1, 180))
        contract_start = _years_before(churned_at, rng.randint(1, 3))
        return {
            "contract_start": contract_start,
            "renewal_date": churned_at,
            "churned_at": churned_at,
            "lifecycle_stage": Account.Stage.CHURNED,
        }
    contract_start = today - dt.timedelta(days=rng.randint(20, 3 * 365))
    # The next anniversary from a month ago: renewals spread over the coming year, a
    # few of them just past and still being negotiated.
    years = 1
    while _years_after(contract_start, years) < today - dt.timedelta(days=30):
        years += 1
    renewal_date = _years_after(contract_start, years)
    age = (today - contract_start).days
    if age < 90:
        stage = Account.Stage.ONBOARDING
    elif (renewal_date - today).days <= 60:
        stage = Account.Stage.RENEWING
    elif age < 365:
        stage = Account.Stage.ADOPTING
    else:
        stage = Account.Stage.MATURE
    return {
        "contract_start": contract_start,
        "renewal_date": renewal_date,
        "churned_at": None,
        "lifecycle_stage": stage,
    }


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _years_before(day: dt.date, years: int) -> dt.date:
    return _years_after(day, -years)


HIERARCHY_GROUPS = 4  # groups of companies in the demo book, 2–4 subsidiaries each


@demo_step(name="hierarchies", order=15)
def demo_hierarchies_step(book: DemoBook) -> str | None:
    """A few parent companies with their subsidiaries among the demo customers, after
    they are scored: csm1's first group has a Critical subsidiary (or an at-risk one)
    of hers and one of a team-mate's she does not see; the others are picked at random,
    one of them with a Critical subsidiary if the book has one.
    Any other demo account that had a parent is made top-level again, so the step gives
    the same groups whenever it runs."""
    rng = book.rng("hierarchies")
    customers = [a for a in book.accounts if a.churned_at is None or a.churned_at > book.today]
    # By the relation's name: accounts does not import scoring.
    levels = dict(
        Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX).values_list(
            "pk", "health__level"
        )
    )
    pool = customers[:]
    rng.shuffle(pool)

    def take(wanted: Callable[[Account], bool] = lambda account: True) -> Account | None:
        found = next((account for account in pool if wanted(account)), None)
        if found is not None:
            pool.remove(found)
        return found

    csm1 = book.users["csm1"]
    groups: list[tuple[Account, list[Account]]] = []
    parent = take(lambda a: a.owner_id == csm1.pk and a.segment == Account.Segment.ENTERPRISE)
    parent = parent or take(lambda a: a.owner_id == csm1.pk)
    if parent is not None:
        worst = take(lambda a: a.owner_id == csm1.pk and levels.get(a.pk) == "critical")
        worst = worst or take(lambda a: a.owner_id == csm1.pk and levels.get(a.pk) == "at_risk")
        children = [
            worst,
            take(lambda a: a.owner_id == csm1.pk and levels.get(a.pk) in ("healthy", "neutral")),
            take(lambda a: a.owner_id is not None and a.owner_id != csm1.pk),
        ]
        groups.append((parent, [child for child in children if child is not None]))
    while len(groups) < HIERARCHY_GROUPS and len(pool) >= 3:
        parent = take()
        assert parent is not None
        # One group at least whose worst subsidiary is Critical, if any account is.
        critical = any(levels.get(c.pk) == "critical" for _, children in groups for c in children)
        children = [] if critical else [take(lambda a: levels.get(a.pk) == "critical")]
        children += [take() for _ in range(min(rng.randint(2, 4) - len(children), len(pool)))]
        groups.append((parent, [child for child in children if child is not None]))

    parents = {child.pk: parent.external_id for parent, children in groups for child in children}
    rows = [
        {"external_id": a.external_id, "name": a.name, "parent": parents.get(a.pk, "")}
        for a in book.accounts
        if a.pk in parents or a.parent_id is not None
    ]
    if rows:
        accounts_save(rows=rows)
    if not groups:
        return None
    return f"{len(groups)} parent companies with {len(parents)} subsidiaries"
