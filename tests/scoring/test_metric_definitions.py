"""A metric's roll-up belongs to each model version that uses it: editing the metric (by
any door) moves no live score and leaves every stored score reproducible; a new version
takes the new definition."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tokens import api_token_create
from scoring.analysis.asof import account_score_as_of
from scoring.models import AccountHealth, HealthScore
from scoring.services import (
    metric_save,
    scoring_model_activate,
    scoring_model_new_version,
    scoring_run_create,
    scoring_run_execute,
)
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_metric, make_model

# After the fixtures' models are activated: scoring "as of" a moment looks for the
# version active then. Taken when the module is imported, so well ahead: a whole suite
# on a loaded machine can reach these tests more than ten minutes after collection.
NOW = timezone.now() + dt.timedelta(hours=3)


@pytest.fixture
def logins_model(db):
    make_metric("logins", rollup="sum", window_days=30)
    return make_model(
        "usage",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 100},
                "weight": 100,
            }
        ],
        bands=[("At-risk", 0, "at_risk"), ("Healthy", 50, "healthy")],
    )


@pytest.fixture
def acme(logins_model):
    account = AccountFactory(name="Acme")
    # 20 logins a week for the last four weeks: 80 in 30 days, 20 in 7.
    for week in range(4):
        add_signal(account, "logins", 20, NOW - dt.timedelta(days=7 * week + 1))
    return account


def score(at: dt.datetime) -> HealthScore:
    run = scoring_run_execute(run=scoring_run_create(as_of=at))
    return HealthScore.objects.get(run=run)


def test_a_window_changed_through_the_api_moves_no_live_score(acme, logins_model, client):
    before = score(NOW)
    assert before.score == pytest.approx(80)
    _, raw = api_token_create(name="ops", scopes=[ApiToken.Scope.CONFIG_WRITE.value])
    response = client.patch(
        "/api/v1/metrics/logins/",
        {"window_days": 7},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["kept_by"] == ["usage:1"]

    after = score(NOW + dt.timedelta(hours=1))
    assert after.model == logins_model  # the same version …
    assert after.score == pytest.approx(80)  # … scoring as it did
    # A past score is reproduced exactly by scoring as of its moment.
    replay = account_score_as_of(account=acme, as_of=before.computed_at)
    assert (replay.model, replay.score, replay.band.pk) == (
        before.model,
        before.score,
        before.band_id,
    )
    assert [(r.raw, r.score) for r in replay.breakdown] == [tuple(p) for p in before.breakdown]


def test_a_new_version_takes_the_new_definition(acme, logins_model):
    score(NOW)
    metric_save(metric=logins_model.components.get().metric, fields={"window_days": 7})
    draft = scoring_model_new_version(model=logins_model)
    component = draft.components.get()
    assert (component.rollup, component.window_days) == ("sum", 7)
    scoring_model_activate(model=draft)
    latest = score(NOW + dt.timedelta(hours=1))
    assert latest.model == draft and latest.score == pytest.approx(20)
    # The old version's scores are still what the old version gives.
    old = HealthScore.objects.filter(model=logins_model).get()
    replay = account_score_as_of(account=acme, as_of=old.computed_at, model=logins_model)
    assert replay.score == old.score == pytest.approx(80)


def test_drafts_follow_the_metric(logins_model):
    draft = scoring_model_new_version(model=logins_model)
    metric_save(metric=logins_model.components.get().metric, fields={"rollup": "count"})
    assert draft.components.get().rollup == "count"
    assert logins_model.components.get().rollup == "sum"


def test_the_scorecard_reads_days_since_in_days(db, client_as, ada):
    make_metric("csm_touch", rollup="days_since", unit="meetings")
    model = make_model(
        "touch",
        components=[
            {
                "metric": "csm_touch",
                "rule": "linear",
                "params": {"worst": 60, "best": 7},
                "weight": 100,
            }
        ],
        bands=[("At-risk", 0, "at_risk"), ("Healthy", 50, "healthy")],
    )
    account = AccountFactory(name="Acme")
    now = timezone.now()
    add_signal(account, "csm_touch", 1, now - dt.timedelta(days=32, hours=9))
    scoring_run_execute(run=scoring_run_create(as_of=now))
    assert AccountHealth.objects.get(account=account).model == model
    page = client_as(ada).get(account.get_absolute_url()).content.decode()
    assert "32.38 days" in page
    assert "meetings" not in page.split("Scorecard")[1].split("</table>")[0]
