"""A playbook's conditions exist twice (``playbooks.matching``): as a filter on accounts
(``conditions_q``, what trigger evaluation runs in the database) and as a check of one
account (``conditions_check``, what event triggers and the dry run use). On random
conditions over every kind of account, they pick the same accounts. So do the two forms
of the renewal trigger's band rule (``renewal_band_q``, ``renewal_band_matches``)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account, RiskLevel, Team
from playbooks import matching
from playbooks.models import Playbook
from scoring.models import AccountHealth
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.playbooks.builders import usage_model
from tests.scoring.builders import add_signal

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
SEGMENTS = Account.Segment.values
PLANS = ["Growth", "Pro", ""]
STAGES = ["onboarding", "mature"]
ARRS = [Decimal("0"), Decimal("5000"), Decimal("12000"), Decimal("12000.01"), Decimal("50000")]
# Logins × 5 is the score: unscored, Critical, At-risk, Neutral, Healthy, Healthy.
LOGINS = [None, 2, 7, 12, 17, 19]


@pytest.fixture
def every_kind_of_account(db, alice, bob, charlie, maggie, mark) -> list[Account]:
    """Accounts of each segment, plan and stage, with ARRs on and beside the boundaries,
    owned by a member of either team, a manager or nobody, at every risk level, without
    data or never scored."""
    usage_model(
        bands=[
            ("Critical", 0, "critical"),
            ("At-risk", 25, "at_risk"),
            ("Neutral", 50, "neutral"),
            ("Healthy", 75, "healthy"),
        ]
    )
    owners = [alice, bob, charlie, maggie, None]
    accounts = []
    kinds = itertools.product(SEGMENTS, PLANS, STAGES, range(2))
    for i, (segment, plan, stage, turn) in enumerate(kinds):
        account = AccountFactory(
            segment=segment,
            plan=plan,
            lifecycle_stage=stage,
            arr=ARRS[(i + turn) % len(ARRS)],
            owner=owners[(i + 3 * turn) % len(owners)],
        )
        logins = LOGINS[(i // 2 + turn) % len(LOGINS)]
        if logins is not None:
            add_signal(account, "logins", logins, NOW - dt.timedelta(hours=1))
        accounts.append(account)
    scoring_run_execute(run=scoring_run_create(as_of=NOW))
    for i, segment in enumerate(SEGMENTS):  # created since: never scored
        accounts.append(AccountFactory(segment=segment, arr=ARRS[i], owner=owners[i]))
    return accounts


@st.composite
def conditions(draw) -> dict:
    """A playbook's conditions; the owner team by name (the teams are made per test)."""
    arr = st.none() | st.sampled_from([*ARRS, Decimal("4999.99")])
    return dict(
        segment=draw(st.sampled_from(["", *SEGMENTS])),
        plan=draw(st.sampled_from(["", "Growth", "Pro", "Basic"])),
        lifecycle_stage=draw(st.sampled_from(["", *STAGES, "renewing"])),
        arr_min=draw(arr),
        arr_max=draw(arr),
        owner_team=draw(st.sampled_from([None, "Enterprise", "SMB"])),
        level_at_least=draw(st.sampled_from(["", *RiskLevel.values])),
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=conditions())
def test_the_filter_and_the_check_pick_the_same_accounts(every_kind_of_account, fields):
    teams = {team.name: team for team in Team.objects.prefetch_related("members")}
    team = teams.get(fields.pop("owner_team"))
    playbook = Playbook(
        name="Random", trigger=Playbook.Trigger.ACCOUNT_CREATED, owner_team=team, **fields
    )
    members = {member.pk for member in team.members.all()} if team else None
    levels = dict(AccountHealth.objects.values_list("account_id", "level"))
    # Every level is there to match, and health without one (no data yet); some accounts
    # were never scored at all.
    assert set(levels.values()) == {"", *RiskLevel.values}
    assert len(levels) < len(every_kind_of_account)

    by_query = set(
        Account.objects.filter(matching.conditions_q(playbook=playbook)).values_list(
            "pk", flat=True
        )
    )
    by_check = {
        account.pk
        for account in every_kind_of_account
        if matching.conditions_match(
            playbook=playbook,
            account=account,
            team_members=members,
            level=levels.get(account.pk, ""),
        )
    }

    assert by_query == by_check


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(
        st.sampled_from(["Critical", "At-risk", "Neutral", "Healthy", "Gone"]), max_size=3
    ),
    exclude=st.booleans(),
)
def test_the_renewal_band_filter_and_check_pick_the_same_accounts(
    every_kind_of_account, names, exclude
):
    playbook = Playbook(
        name="Renewals",
        trigger=Playbook.Trigger.RENEWAL_WITHIN,
        band_names=", ".join(names),
        band_names_exclude=exclude,
    )
    bands = dict(AccountHealth.objects.values_list("account_id", "band__name"))
    # Accounts in each band, scored without a band (no data yet) and never scored.
    assert None in bands.values() and len(bands) < len(every_kind_of_account)

    by_query = set(
        Account.objects.filter(matching.renewal_band_q(playbook=playbook)).values_list(
            "pk", flat=True
        )
    )
    by_check = {
        account.pk
        for account in every_kind_of_account
        if matching.renewal_band_matches(
            playbook=playbook, band_name=bands.get(account.pk), scored=account.pk in bands
        )
    }

    assert by_query == by_check
