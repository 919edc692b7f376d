"""Backtests may label by renewal outcome (a churn or a downgrade due within the horizon)
instead of by churn date. On the demo, whose churns are recorded as outcomes on their
churn day, the outcomes' positives are the churn date's and the downgrades besides."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from renewals.models import RenewalOutcome
from scoring.analysis.backtest import backtest_run, label_choices
from scoring.errors import ScoringError
from scoring.models import ScoringModel

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def positives(report) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for sample in report.samples:
        if sample.label:
            found.setdefault(sample.date_index, set()).add(sample.account_id)
    return found


def test_on_the_demo_the_outcome_labels_add_the_downgrades_to_the_churns(db):
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    model = ScoringModel.objects.get(key="standard", status="active")
    assert ("outcomes", "Churned or downgraded (renewal outcomes)") in label_choices()
    by_churn = backtest_run(model=model, horizon_days=90)
    by_outcome = backtest_run(model=model, horizon_days=90, labels="outcomes")
    churned, lost = positives(by_churn), positives(by_outcome)
    assert churned, "the demo's churns are positives by either label"
    for index, point in enumerate(by_outcome.points):
        end = point.date + dt.timedelta(days=90)
        scored = {s.account_id for s in by_outcome.samples if s.date_index == index}
        downgraded = set(
            RenewalOutcome.objects.filter(
                kind="downgraded", renewal_date__gt=point.date, renewal_date__lte=end
            ).values_list("account_id", flat=True)
        )
        # Every churn is an outcome too; the downgrades due then come besides.
        assert lost.get(index, set()) == churned.get(index, set()) | (downgraded & scored)
    assert "Labels: Churned or downgraded (renewal outcomes)" in " ".join(by_outcome.notes)
    with pytest.raises(ScoringError, match="Unknown labels 'votes'"):
        backtest_run(model=model, horizon_days=90, labels="votes")
