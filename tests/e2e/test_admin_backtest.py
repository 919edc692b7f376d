"""An admin backtests a scoring model in a real browser: the form starts a job on a real
worker, the page follows its progress in place (htmx polling, no reload) and shows the
report when it is done, with no JavaScript or CSP error on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from scoring.models import AnalysisJob
from tests.conftest import PASSWORD
from tests.e2e.test_tasks import SCREENSHOTS
from tests.scoring.test_analysis_jobs import DATES, book_of
from tests.scoring.test_recompute_runs import usage_model

pytestmark = pytest.mark.e2e


def test_an_admin_starts_a_backtest_and_reads_its_report(
    page, ada, celery_worker_process, monkeypatch, browser_errors
):
    model = usage_model()
    book_of(120)
    monkeypatch.setenv("VITALS_BACKTEST_CHUNK_SIZE", "2")  # long enough to watch it move
    celery_worker_process.start(concurrency=1)

    page.goto("/admin/login/")
    page.get_by_label("Username").fill(ada.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/admin/scoring/scoringmodel/{model.pk}/change/")
    page.locator("#backtest-link").click()
    expect(page).to_have_url(re.compile(rf"/scoringmodel/{model.pk}/backtest/$"))

    page.get_by_label("As-of dates").fill(" ".join(f"{d:%Y-%m-%d}" for d in DATES))
    page.get_by_label("Horizon (days)").fill("30")
    page.get_by_role("button", name="Run the backtest").click()

    job = AnalysisJob.objects.get()
    expect(page).to_have_url(re.compile(rf"/backtest/\?job={job.pk}$"))
    page.evaluate("window.stillTheSamePage = true")
    panel = page.locator("#analysis-job")
    expect(panel).to_have_attribute("data-status", re.compile("pending|running|succeeded"))
    page.screenshot(path=str(SCREENSHOTS / "admin-backtest-running.png"), full_page=True)

    expect(panel).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(panel.locator(".backtest-report")).to_be_visible()
    expect(panel.locator("#job-done")).to_contain_text(f"Backtest {job.pk}, finished")
    assert page.evaluate("window.stillTheSamePage") is True  # followed in place
    expect(page.locator("#analysis-recent")).to_contain_text(f"Backtest {job.pk}")
    page.screenshot(path=str(SCREENSHOTS / "admin-backtest-report.png"), full_page=True)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.requested_by) == ("succeeded", 1, ada)
    assert not browser_errors, browser_errors
