"""“Which scoring model applies to this account” has one definition
(``scoring.applicability``) and three forms: the SQL CASE a recompute computes, the
Python choice (one account as of a date) and the ORM condition (a draft's preview).
They give the same answer on random filters over every kind of account."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from scoring.analysis.asof import account_score_as_of
from scoring.analysis.preview import preview_accounts
from scoring.applicability import FILTER_FIELDS, ModelFilter, choice_sql, choose, claimed_q
from scoring.models import ScoringModel
from scoring.services import scoring_model_activate
from scoring.sql import Sql
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_metric, make_model

SEGMENTS = ["smb", "mid_market", "enterprise"]
PLANS = ["Growth", "Pro", "Basic"]
STAGES = ["onboarding", "mature"]
VALUES = dict(zip(FILTER_FIELDS, (SEGMENTS, PLANS, STAGES), strict=True))


@pytest.fixture
def every_kind_of_account(db) -> list[Account]:
    return [
        AccountFactory(segment=segment, plan=plan, lifecycle_stage=stage)
        for segment, plan, stage in itertools.product(SEGMENTS, PLANS, STAGES)
    ]


@st.composite
def model_filters(draw) -> list[ModelFilter]:
    ids = draw(st.lists(st.integers(1, 50), max_size=6, unique=True))
    return [
        ModelFilter(
            model_id,
            tuple(draw(st.sampled_from(["", *VALUES[name]])) for name in FILTER_FIELDS),
        )
        for model_id in ids
    ]


def sql_choice(filters: list[ModelFilter]) -> dict[int, int | None]:
    sql = Sql().add("SELECT a.id, ")
    choice_sql(filters, sql)
    sql.add(" FROM accounts_account a")
    with connection.cursor() as cursor:
        cursor.execute(sql.text, sql.params)
        return dict(cursor.fetchall())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters=model_filters())
def test_sql_python_and_orm_choose_the_same_model(every_kind_of_account, filters):
    by_sql = sql_choice(filters)
    by_python = {a.pk: choose(filters, a) for a in every_kind_of_account}
    by_orm: dict[int, int | None] = {a.pk: None for a in every_kind_of_account}
    for f in filters:
        for account_id in Account.objects.filter(claimed_q(f, filters)).values_list(
            "pk", flat=True
        ):
            assert by_orm[account_id] is None, "two models claim one account"
            by_orm[account_id] = f.id

    assert by_sql == by_python == by_orm


def test_the_most_specific_filter_wins_and_the_older_model_on_a_tie():
    account = {"segment": "smb", "plan": "Pro", "lifecycle_stage": "mature"}
    anyone = ModelFilter(1, ("", "", ""))
    smb = ModelFilter(7, ("smb", "", ""))
    pro = ModelFilter(3, ("", "Pro", ""))
    smb_pro = ModelFilter(9, ("smb", "Pro", ""))

    assert choose([anyone], account) == 1
    assert choose([anyone, smb], account) == 7
    assert choose([smb, pro], account) == 3  # as specific: the older (lower id)
    assert choose([anyone, smb, pro, smb_pro], account) == 9
    assert choose([ModelFilter(2, ("enterprise", "", ""))], account) is None


def test_a_draft_previews_the_accounts_an_as_of_score_would_give_it(every_kind_of_account):
    """The preview (ORM) and one account's score as of a date (Python) agree with the
    recompute about who a model scores once it is active."""
    usage = make_metric("usage")
    components = [{"metric": "usage", "rule": "passthrough", "weight": 100}]
    bands = [("Low", None), ("High", 50)]
    make_model("everyone", components=components, bands=bands)
    smb = make_model("smb", segment="smb", components=components, bands=bands)
    smb_pro = make_model(
        "smb-pro", segment="smb", plan="Pro", components=components, bands=bands, activate=False
    )
    now = dt.datetime.now(dt.UTC)
    for account in every_kind_of_account:
        add_signal(account, usage, 60, now - dt.timedelta(days=1))

    previewed = set(preview_accounts(model=smb_pro, as_of=now).values_list("pk", flat=True))
    scoring_model_activate(model=smb_pro)
    later = dt.datetime.now(dt.UTC)
    by_as_of = {
        a.pk: account_score_as_of(account=a, as_of=later).model.key for a in every_kind_of_account
    }

    assert previewed == {pk for pk, key in by_as_of.items() if key == "smb-pro"}
    assert len(previewed) == len(STAGES)  # smb, Pro, either stage
    assert {key for key in by_as_of.values()} == {"everyone", "smb", "smb-pro"}
    assert ScoringModel.objects.get(pk=smb.pk).status == "active"
