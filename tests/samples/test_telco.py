"""A real customer base end to end: the IBM Telco Customer Churn sample (7,043 customers)
imported, scored as of the day before the churn date, backtested, and a calibrated
version suggested that holds up out of sample (docs/telco.md)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from scoring.analysis.backtest import backtest_run
from scoring.analysis.suggest import backtest_suggest
from scoring.models import ScoringModel, Signal

TELCO = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "telco-customer-churn"
    / "Telco-Customer-Churn.csv"
)
SNAPSHOT = dt.date(2026, 6, 30)

pytestmark = pytest.mark.skipif(not TELCO.exists(), reason=f"{TELCO} is not on this machine")


@pytest.mark.slow
def test_the_telco_customer_base_imports_and_its_calibrated_score_holds_out_of_sample(db):
    out = io.StringIO()
    call_command("import_telco", str(TELCO), "--snapshot", f"{SNAPSHOT}", stdout=out)
    assert "7043 customers (1869 churned on 2026-06-30)" in out.getvalue()
    assert Account.objects.filter(external_id__startswith="telco-").count() == 7043
    assert Account.objects.filter(churned_at=SNAPSHOT).count() == 1869
    # Twelve metrics a customer, less the eleven blank total charges of new customers.
    assert Signal.objects.filter(source="telco").count() == 7043 * 12 - 11

    # Importing again adds nothing.
    call_command("import_telco", str(TELCO), "--snapshot", f"{SNAPSHOT}", stdout=io.StringIO())
    assert Signal.objects.filter(source="telco").count() == 7043 * 12 - 11

    model = ScoringModel.objects.get(key="telco", status="active")
    report = backtest_run(model=model, dates=[SNAPSHOT - dt.timedelta(days=1)], horizon_days=30)
    (point,) = report.points
    assert point.problems == []
    assert (point.customers, point.scored, point.churned) == (7043, 7043, 1869)
    assert point.auc > 0.80  # the hand-weighted model

    result = backtest_suggest(report=report)
    suggested, _ = result.cross_validation.suggested
    current, _ = result.cross_validation.current
    assert suggested >= 0.83
    assert suggested > current
    assert sum(result.suggestion.weights) == Decimal(100)


def test_a_file_that_is_not_the_telco_sample_is_refused_with_the_reason(db, tmp_path):
    other = tmp_path / "customers.csv"
    other.write_text("customerID,tenure\nA-1,3\n")
    with pytest.raises(CommandError, match=r"customers.csv: the header has no SeniorCitizen"):
        call_command("import_telco", str(other), stdout=io.StringIO())
    bad = tmp_path / "telco.csv"
    header = TELCO.read_text().splitlines()[:2]
    bad.write_text(header[0] + "\n" + header[1].replace("Month-to-month", "Weekly") + "\n")
    with pytest.raises(CommandError, match=r"telco.csv, line 2: unknown Contract 'Weekly'"):
        call_command("import_telco", str(bad), stdout=io.StringIO())
