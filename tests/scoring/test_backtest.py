"""Proving the score: accounts scored as they stood at a past date, compared with who
churned afterwards — through the service, the command and the admin pages."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, User
from scoring.analysis.asof import (
    account_score_as_of,
    as_of_moment,
    scoring_model_active_at,
    scoring_model_resolve,
)
from scoring.analysis.backtest import backtest_run
from scoring.analysis.jobs import analysis_job_run
from scoring.analysis.preview import preview_summarise, scoring_model_preview
from scoring.analysis.suggest import backtest_suggest
from scoring.analysis.whatif import book_band_moves
from scoring.errors import ScoringError
from scoring.models import AnalysisJob, ScoringModel
from scoring.services import (
    scoring_model_activate,
    scoring_model_new_version,
    scoring_run_create,
    scoring_run_execute,
)
from tests.factories import AccountFactory, UserFactory
from tests.scoring.builders import add_signal, make_metric, make_model

TODAY = timezone.localdate()
AS_OF = TODAY - dt.timedelta(days=120)  # the date the backtest looks back to
BEFORE = as_of_moment(AS_OF) - dt.timedelta(days=5)
EARLIEST = as_of_moment(AS_OF) - dt.timedelta(days=45)

# Logins over the 30 days before the date, scored 0 → 100 between 0 and 30 logins.
CHURNED_LOGINS = [3, 6, 9, 15, 24]  # scores 10, 20, 30, 50, 80
STAYED_LOGINS = [9, 18, 21, 27, 30, 30]  # scores 30, 60, 70, 90, 100, 100


@pytest.fixture
def health(db) -> ScoringModel:
    make_metric("logins", rollup="sum", window_days=30)
    make_metric("open_tickets")
    return make_model(
        "health",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 30},
                "weight": 70,
            },
            {
                "metric": "open_tickets",
                "rule": "linear",
                "params": {"worst": 10, "best": 0},
                "weight": 30,
            },
        ],
        bands=[("At-risk", 0), ("Neutral", 50), ("Healthy", 75)],
    )


def _customer(name: str, logins: float, *, churned_at: dt.date | None = None, **fields):
    account = AccountFactory(name=name, churned_at=churned_at, **fields)
    add_signal(account, "logins", logins, BEFORE)
    return account


@pytest.fixture
def book(health):
    """Eleven customers on the date: five leave within the next month, six stay."""
    for i, logins in enumerate(CHURNED_LOGINS):
        _customer(f"Leaver {i}", logins, churned_at=AS_OF + dt.timedelta(days=10 + i))
    for i, logins in enumerate(STAYED_LOGINS):
        stayer = _customer(f"Stayer {i}", logins)
    # History reaching back past the 30-day window: the date is judged on whole windows.
    add_signal(stayer, "logins", 0, EARLIEST)
    return health


# --- As of a date ---------------------------------------------------------------------------


def test_an_account_is_scored_with_the_signals_before_the_date_only(health):
    acme = _customer("Acme", 15)
    # After the date: the window then holds 15 + 15 logins, which the date never saw.
    add_signal(acme, "logins", 15, as_of_moment(AS_OF) + dt.timedelta(hours=1))
    then = account_score_as_of(account=acme, as_of=as_of_moment(AS_OF), model=health)
    assert then.score == pytest.approx(50)
    assert then.band.name == "Neutral"
    assert [row.raw for row in then.breakdown] == [15, None]
    later = account_score_as_of(
        account=acme, as_of=as_of_moment(AS_OF + dt.timedelta(days=1)), model=health
    )
    assert later.score == pytest.approx(100)
    # The roll-up window ends at the date: 40 days on, both signals are out of it.
    gone = account_score_as_of(
        account=acme, as_of=as_of_moment(AS_OF + dt.timedelta(days=40)), model=health
    )
    assert gone.score is None


def test_the_version_active_at_the_date_scores_unless_one_is_chosen(health):
    activated = health.activated_at
    v2 = scoring_model_new_version(model=health)
    v2.components.filter(metric__key="logins").update(params={"worst": 0, "best": 60})
    scoring_model_activate(model=v2, now=activated + dt.timedelta(days=1))
    health.refresh_from_db()
    assert (health.status, health.retired_at) == ("retired", v2.activated_at)

    moment = activated + dt.timedelta(hours=12)
    assert scoring_model_active_at(key="health", at=moment) == health
    assert scoring_model_active_at(key="health", at=v2.activated_at) == v2
    assert scoring_model_active_at(key="health", at=activated - dt.timedelta(seconds=1)) is None

    acme = AccountFactory(name="Acme")
    add_signal(acme, "logins", 15, activated - dt.timedelta(days=1))
    assert account_score_as_of(account=acme, as_of=moment).model == health
    assert account_score_as_of(account=acme, as_of=moment).score == pytest.approx(50)
    later = v2.activated_at + dt.timedelta(hours=1)
    assert account_score_as_of(account=acme, as_of=later).score == pytest.approx(25)
    assert account_score_as_of(account=acme, as_of=later, model=health).score == pytest.approx(50)
    with pytest.raises(ScoringError, match="No scoring model that applies to Acme was active"):
        account_score_as_of(account=acme, as_of=activated - dt.timedelta(days=1))


def test_models_are_named_by_key_key_and_version_or_id(health):
    draft = scoring_model_new_version(model=health)
    assert scoring_model_resolve(ref="health") == health
    assert scoring_model_resolve(ref="health:2") == draft
    assert scoring_model_resolve(ref=str(draft.pk)) == draft
    with pytest.raises(ScoringError, match=r"health has no version 7 \(versions: 1, 2\)"):
        scoring_model_resolve(ref="health:7")
    with pytest.raises(ScoringError, match="No scoring model has the key 'wealth'"):
        scoring_model_resolve(ref="wealth")


# --- The report ----------------------------------------------------------------------------


def test_the_backtest_reports_auc_bands_lift_deciles_and_components(book):
    report = backtest_run(model=book, dates=[AS_OF], horizon_days=30)
    (point,) = report.points
    assert point.problems == []
    assert (point.customers, point.scored, point.churned) == (11, 11, 5)
    # Worked by hand in tests/scoring/test_stats.py's manner: 25.5 of 30 pairs.
    assert point.auc == pytest.approx(25.5 / 30)
    bands = {b.name: (b.accounts, b.churned) for b in point.bands}
    assert bands == {"At-risk": (4, 3), "Neutral": (3, 1), "Healthy": (4, 1)}
    assert [b.name for b in point.bands] == ["Healthy", "Neutral", "At-risk"]
    assert point.worst_band.name == "At-risk"
    assert point.worst_band.lift == pytest.approx(0.75 / (5 / 11))
    assert sum(d.accounts for d in point.deciles) == 11
    assert point.deciles[0].low == pytest.approx(10)
    logins, tickets = point.components
    assert (logins.label, logins.with_data, logins.auc) == ("Logins", 11, pytest.approx(25.5 / 30))
    assert (tickets.with_data, tickets.auc) == (0, None)


def test_the_population_is_the_customers_of_the_date_and_churn_counts_within_the_horizon(book):
    _customer("Not yet a customer", 1, contract_start=AS_OF + dt.timedelta(days=1))
    _customer("Gone before", 1, churned_at=AS_OF)
    _customer("Leaves after the horizon", 2, churned_at=AS_OF + dt.timedelta(days=31))
    (point,) = backtest_run(model=book, dates=[AS_OF], horizon_days=30).points
    assert (point.customers, point.churned) == (12, 5)
    (longer,) = backtest_run(model=book, dates=[AS_OF], horizon_days=31).points
    assert (longer.customers, longer.churned) == (12, 6)


def test_a_date_before_the_history_says_so(book):
    early = AS_OF - dt.timedelta(days=60)
    (point,) = backtest_run(model=book, dates=[early], horizon_days=30).points
    assert point.auc is None
    assert point.problems == [
        f"Too little history: no signals before {early:%Y-%m-%d} (the earliest is on "
        f"{timezone.localtime(EARLIEST):%Y-%m-%d}). Choose a later date."
    ]


def test_a_date_with_part_of_a_window_behind_it_is_flagged_and_left_out_of_fits(health):
    for i, logins in enumerate(CHURNED_LOGINS):
        _customer(f"Leaver {i}", logins, churned_at=AS_OF + dt.timedelta(days=10 + i))
    for i, logins in enumerate(STAYED_LOGINS):
        _customer(f"Stayer {i}", logins)
    report = backtest_run(model=health, dates=[AS_OF], horizon_days=30)
    (point,) = report.points
    assert point.auc == pytest.approx(25.5 / 30)
    assert point.partial_components == [0]
    assert (
        "Too little history before this date for the whole roll-up window of Logins (30 days)"
        in (point.notes[0])
    )
    with pytest.raises(ScoringError, match="No component had data at these dates"):
        backtest_suggest(report=report)


def test_too_few_churned_accounts_to_judge_says_so(book):
    (point,) = backtest_run(model=book, dates=[AS_OF], horizon_days=5).points
    assert point.auc is None
    assert point.problems == [
        f"Too few accounts to judge: 0 churned within 5 days of {AS_OF:%Y-%m-%d} and 11 stayed; "
        "at least 5 of each are needed. Choose another date or a longer horizon."
    ]
    assert sum(b.accounts for b in point.bands) == 11  # the band table is still shown


def test_dates_must_be_in_the_past(book):
    with pytest.raises(ScoringError, match="As-of dates must be in the past"):
        backtest_run(model=book, dates=[TODAY])


def test_points_models_get_no_weight_suggestion(db):
    make_metric("csat")
    points = make_model(
        "points",
        kind="points",
        components=[{"metric": "csat", "rule": "per_unit", "params": {"points": 2}}],
        bands=[("Low", None)],
    )
    report = backtest_run(model=points, dates=[AS_OF])
    with pytest.raises(ScoringError, match="points model: suggestions fit the weights"):
        backtest_suggest(report=report)


# --- The command -----------------------------------------------------------------------------


def _backtest(*args: str) -> str:
    out = io.StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue()


def test_the_command_reports_each_date(book):
    output = _backtest("health", "--as-of", f"{AS_OF}", "--horizon", "30")
    assert "Backtest of Health v1 (all accounts), churn within 30 days." in output
    assert f"{AS_OF:%Y-%m-%d}" in output and "0.850" in output
    assert "At-risk" in output and "1.65" in output


def test_the_command_suggests_weights_and_saves_them_as_a_draft(book):
    output = _backtest(
        "health", "--as-of", f"{AS_OF}", "--horizon", "30", "--suggest", "--create-draft"
    )
    assert "Suggested weights, fitted to 11 accounts (5 churned)" in output
    assert "5-fold cross-validation" in output
    draft = ScoringModel.objects.get(key="health", version=2)
    assert draft.status == "draft"
    assert "Created Health v2 (draft" in output
    weights = [c.weight for c in draft.components.order_by("position")]
    assert sum(weights) == Decimal(100)
    assert "Weights fitted to churn within 30 days" in draft.description


def test_the_command_writes_json_for_scripts(book):
    data = json.loads(
        _backtest(
            "health", "--as-of", f"{AS_OF}", "--horizon", "30", "--suggest", "--format", "json"
        )
    )
    assert data["model"] == {"key": "health", "version": 1, "id": book.pk}
    assert data["params"]["horizon_days"] == 30
    [point] = data["report"]["points"]
    assert point["date"] == f"{AS_OF}"
    assert (point["customers"], point["churned"], round(point["auc"], 3)) == (11, 5, 0.85)
    assert data["suggestion"]["samples"] == 11 and data["draft"] is None
    plain = json.loads(_backtest("health", "--as-of", f"{AS_OF}", "--format", "json"))
    assert plain["suggestion"] is None


def test_the_command_explains_bad_input(book):
    with pytest.raises(CommandError, match="No scoring model has the key 'nope'"):
        _backtest("nope")
    with pytest.raises(CommandError, match="The horizon must be at least 1 day"):
        _backtest("health", "--horizon", "0")


# --- The admin ---------------------------------------------------------------------------------


@pytest.fixture
def ada_admin(ada, client_as):
    return client_as(ada)


def start_and_run(client, url: str, data: dict) -> str:
    """Submit a backtest or what-if form, run the job it started here (as a worker
    would), and return the page of the job."""
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()
    job = AnalysisJob.objects.get(pk=response["Location"].split("job=")[1])
    assert job.status == AnalysisJob.Status.PENDING
    assert analysis_job_run(job_id=job.pk) is True
    return client.get(response["Location"]).content.decode()


def test_an_admin_reads_the_backtest_with_its_charts(book, ada_admin):
    change = ada_admin.get(reverse("admin:scoring_scoringmodel_change", args=[book.pk]))
    url = reverse("admin:scoring_scoringmodel_backtest", args=[book.pk])
    assert url in change.content.decode()
    assert 'method="post"' in ada_admin.get(url).content.decode()
    html = start_and_run(ada_admin, url, {"as_of": f"{AS_OF}", "horizon": "30", "segment": ""})
    assert 'data-status="succeeded"' in html
    assert "<strong>0.850</strong>" in html
    assert html.count("<svg") >= 4  # ROC, two bar charts, component bars
    assert "45.5 %" in html  # 5 of 11 churned


def test_the_admin_suggestion_becomes_a_draft_in_one_press(book, ada_admin):
    url = reverse("admin:scoring_scoringmodel_backtest", args=[book.pk])
    html = start_and_run(
        ada_admin,
        url,
        {"as_of": f"{AS_OF}", "horizon": "30", "segment": "", "suggest": "Run and suggest"},
    )
    assert 'id="suggestion-table"' in html
    job = AnalysisJob.objects.get()
    assert f'name="job" value="{job.pk}"' in html
    response = ada_admin.post(
        reverse("admin:scoring_scoringmodel_backtest_draft", args=[book.pk]), {"job": job.pk}
    )
    draft = ScoringModel.objects.get(key="health", version=2)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scoring_scoringmodel_change", args=[draft.pk])
    assert sum(c.weight for c in draft.components.all()) == Decimal(100)
    assert "Weights fitted to churn within 30 days" in draft.description


def test_a_draft_needs_a_finished_backtest_with_a_suggestion(book, ada_admin):
    url = reverse("admin:scoring_scoringmodel_backtest", args=[book.pk])
    start_and_run(ada_admin, url, {"as_of": f"{AS_OF}", "horizon": "30", "segment": ""})
    response = ada_admin.post(
        reverse("admin:scoring_scoringmodel_backtest_draft", args=[book.pk]),
        {"job": AnalysisJob.objects.get().pk},
        follow=True,
    )
    assert "Choose a finished backtest with suggested weights" in response.content.decode()
    assert not ScoringModel.objects.filter(key="health", version=2).exists()


def test_the_backtest_form_names_a_bad_date(book, ada_admin):
    url = reverse("admin:scoring_scoringmodel_backtest", args=[book.pk])
    page = ada_admin.post(url, {"as_of": "2026-13-01", "horizon": "30", "segment": ""})
    assert page.status_code == 200
    assert "&#x27;2026-13-01&#x27; is not a date (YYYY-MM-DD)." in page.content.decode()
    assert not AnalysisJob.objects.exists()


def test_people_outside_the_admin_cannot_backtest(book, client_as):
    csm = UserFactory(username="carla", role=User.Role.CSM)
    response = client_as(csm).get(reverse("admin:scoring_scoringmodel_backtest", args=[book.pk]))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    response = client_as(csm).post(
        reverse("admin:scoring_scoringmodel_backtest_draft", args=[book.pk]),
        {"job": "1"},
    )
    assert response.status_code == 302
    assert not ScoringModel.objects.filter(key="health", version=2).exists()


# --- What-if over the whole book ----------------------------------------------------------


def test_the_whole_book_what_if_counts_what_a_preview_of_every_account_shows(book, ada_admin):
    now = timezone.now()
    for i, logins in enumerate([0, 12, 30]):
        account = AccountFactory(name=f"Recent {i}")
        add_signal(account, "logins", logins, now - dt.timedelta(days=1))
    scoring_run_execute(run=scoring_run_create(as_of=now))
    draft = scoring_model_new_version(model=book)
    draft.components.filter(metric__key="logins").update(params={"worst": 0, "best": 15})
    draft.bands.filter(name="Neutral").update(lower=40)

    moves = book_band_moves(model=draft, as_of=now, chunk_size=4)
    everyone = sorted(Account.objects.filter(churned_at__isnull=True).values_list("id", flat=True))
    sample = preview_summarise(
        model=draft, rows=scoring_model_preview(model=draft, account_ids=everyone, as_of=now)
    )
    assert [(r.label, r.counts) for r in moves.matrix] == [
        (r.label, r.counts) for r in sample.matrix
    ]
    assert moves.band_moves == sample.band_moves
    assert moves.average_change == pytest.approx(sample.average_change)

    html = start_and_run(
        ada_admin,
        reverse("admin:scoring_scoringmodel_whatif", args=[draft.pk]),
        {"as_of": "", "horizon": "90", "segment": ""},
    )
    assert 'id="book-matrix"' in html and 'id="whatif-comparison"' in html
    assert f'<strong id="whatif-band-moves">{moves.band_moves}</strong>' in html


def test_the_what_if_is_for_drafts(book, ada_admin):
    response = ada_admin.get(reverse("admin:scoring_scoringmodel_whatif", args=[book.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scoring_scoringmodel_change", args=[book.pk])


def test_one_account_scored_as_of_a_date_from_the_command_line(book):
    leaver = Account.objects.get(name="Leaver 3")
    out = io.StringIO()
    call_command(
        "score_as_of", leaver.external_id, "--as-of", f"{AS_OF}", "--model", "health", stdout=out
    )
    assert out.getvalue().splitlines()[0] == (
        f"Leaver 3 as of {AS_OF:%Y-%m-%d}, scored by Health v1: 50.0, Neutral, "
        "70% of the weight with data."
    )
    with pytest.raises(CommandError, match="No account has the external id 'nobody'"):
        call_command("score_as_of", "nobody", "--as-of", f"{AS_OF}")


def test_default_dates_without_a_window_of_history_behind_them_are_left_out(health):
    acme = AccountFactory(name="Acme")
    add_signal(acme, "logins", 10, as_of_moment(TODAY - dt.timedelta(days=100)))
    report = backtest_run(model=health)
    assert [p.date for p in report.points] == [
        TODAY - dt.timedelta(days=60),
        TODAY - dt.timedelta(days=30),
    ]
    assert report.notes == [
        f"Left out {TODAY - dt.timedelta(days=90):%Y-%m-%d}: less than 30 days of signals "
        "before it, the longest roll-up window of the model."
    ]
    # A date asked for is kept, and said to be short of history.
    (point,) = backtest_run(model=health, dates=[TODAY - dt.timedelta(days=90)]).points
    assert any("whole roll-up window of Logins (30 days)" in note for note in point.notes)
