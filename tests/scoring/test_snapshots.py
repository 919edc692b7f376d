"""import_snapshot: a customer base without timestamps becomes accounts, metrics (numbers
as they are, categories one 0/1 metric per value), signals dated before the snapshot and
churn labels; a backtest the day before the snapshot counts exactly the churned ones;
a bad file is refused with its lines, and nothing is written."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from scoring.analysis.backtest import backtest_run
from scoring.models import Metric, Signal
from tests.scoring.builders import make_model

pytestmark = pytest.mark.django_db

SNAPSHOT = dt.date(2026, 11, 1)
FILE = """Id,Who,Plan,Seats,Region,Left,Row
c1,Ann,Pro,12,EU,0,1
c2,Bob,Basic,3,US,yes,2
c3,Cy,Pro,,EU,2026-10-20,3
c4,Di,Basic,40,,No,4
"""


def write(tmp_path, text: str):
    path = tmp_path / "base.csv"
    path.write_text(text)
    return path


def run(path, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "import_snapshot", str(path), "--id", "Id", "--label", "Left", "--name", "Who",
        "--ignore", "Row", "--prefix", "t_", "--snapshot", f"{SNAPSHOT}", *extra, stdout=out,
    )  # fmt: skip
    return out.getvalue()


def values(external_id: str) -> dict[str, float]:
    return dict(
        Signal.objects.filter(account__external_id=external_id).values_list("metric__key", "value")
    )


def test_a_snapshot_becomes_accounts_metrics_signals_and_labels(tmp_path):
    out = run(write(tmp_path, FILE))
    assert "4 customers (2 churned)" in out and "signals stored: 17" in out
    assert "Plan (category): t_plan_basic, t_plan_pro" in out
    assert "Seats (number): t_seats" in out
    assert "backtest MODEL --as-of 2026-10-31 --horizon 30" in out

    accounts = {a.external_id: a for a in Account.objects.all()}
    assert set(accounts) == {"t_c1", "t_c2", "t_c3", "t_c4"}
    assert accounts["t_c1"].name == "Ann (c1)" and accounts["t_c1"].churned_at is None
    assert accounts["t_c2"].churned_at == SNAPSHOT  # "yes": leaves on the snapshot date
    assert accounts["t_c3"].churned_at == dt.date(2026, 10, 20)  # the label's own date
    assert accounts["t_c1"].attributes["Plan"] == "Pro"
    assert set(Metric.objects.filter(key__startswith="t_").values_list("key", flat=True)) == {
        "t_plan_basic", "t_plan_pro", "t_seats", "t_region_eu", "t_region_us",
    }  # fmt: skip
    assert values("t_c1") == {
        "t_plan_basic": 0, "t_plan_pro": 1, "t_seats": 12, "t_region_eu": 1, "t_region_us": 0,
    }  # fmt: skip
    assert "t_seats" not in values("t_c3")  # an empty number: no signal
    assert not any(key.startswith("t_region") for key in values("t_c4"))  # an empty category
    [observed] = set(Signal.objects.values_list("timestamp", flat=True))
    assert observed == dt.datetime(2026, 10, 2, 12, tzinfo=dt.UTC)

    again = run(write(tmp_path, FILE))
    assert "accounts created: 0, updated: 4" in again
    assert "signals stored: 0, already there: 17" in again
    assert Signal.objects.count() == 17


def test_a_backtest_the_day_before_counts_exactly_the_churned(tmp_path):
    rows = "\n".join(f"c{n},{n % 7},{n % 3 == 0:d}" for n in range(60))
    run_file = write(tmp_path, "Id,Seats,Left\n" + rows + "\n")
    call_command(
        "import_snapshot", str(run_file), "--id", "Id", "--label", "Left",
        "--snapshot", f"{SNAPSHOT}", stdout=io.StringIO(),
    )  # fmt: skip
    model = make_model(
        "seats",
        components=[{"metric": "seats", "rule": "linear", "params": {"worst": 0, "best": 6},
                     "weight": 100}],
        bands=[("At-risk", None, "at_risk"), ("Healthy", 50, "healthy")],
    )  # fmt: skip
    [point] = backtest_run(
        model=model, dates=[SNAPSHOT - dt.timedelta(days=1)], horizon_days=30
    ).points
    assert (point.customers, point.scored, point.churned) == (60, 60, 20)


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        (FILE, ["--categorical", "Colour"], "the header has no column --categorical 'Colour'"),
        (FILE.replace("c4,Di", "c1,Di"), [], "line 5: Id 'c1' is on line 2 too."),
        (FILE.replace(",yes,", ",maybe,"), [], "line 3: Left 'maybe' is neither a churn"),
        (
            "Id,Who,Note,Left,Row\n" + "".join(f"c{n},N,free text {n},0,{n}\n" for n in range(25)),
            [],
            "column Note: 25 different values, more than the 20 a category column may have "
            "(line 2 has 'free text 0', not a number); if it is an identifier or free text, "
            "leave it out with --ignore 'Note'.",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_written(
    tmp_path, text, extra, message
):
    with pytest.raises(CommandError) as refused:
        run(write(tmp_path, text), *extra)
    assert message in str(refused.value)
    assert not Account.objects.exists()
    assert not Metric.objects.filter(key__startswith="t_").exists()
