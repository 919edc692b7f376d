#!/usr/bin/env python
"""The trust figures of docs/playbooks.md, measured on the demo book.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitals_trust \\
        .venv/bin/python bench/playbook_trust.py --accounts 1000

On a database of its own (it seeds the demo with ``--reset``):

1. ``seed_demo --accounts N`` afresh (demo accounts, model versions and playbooks of an
   earlier run deleted first): 90 days of history, the playbooks acting after each
   scoring of it;
2. flap control: band changes of the raw bands (score by score) against the confirmed
   band changes the recompute recorded;
3. one vocabulary: the accounts at risk or worse today, by model, and how many the
   at-risk playbook acted on (or held out);
4. the loop: runs and tasks by status, tasks that a re-trigger added to instead of a
   second one;
5. did it work: the at-risk playbook's effectiveness report (21 days);
6. no alarms from configuration: a re-weighted version of the standard model is
   activated and the book recomputed twice with no new data — band changes (all
   re-baselines), runs acted on, tasks and ``account.band_changed`` deliveries made.

The results are printed as Markdown and written into docs/playbooks.md between the
script's markers (``--docs ''`` to skip).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workers import django_setup  # noqa: E402

DOCS = ROOT / "docs" / "playbooks.md"
MARKER = "bench/playbook_trust.py"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "—"


def _points(value: float) -> str:
    return f"{value * 100:+.0f}"


def measure(accounts: int) -> str:
    import datetime as dt
    from itertools import pairwise

    from django.core.management import call_command
    from django.db.models import Count
    from django.utils import timezone

    # A fresh demo: no account, model version or playbook left from an earlier run.
    from accounts.demo import demo_accounts_delete
    from accounts.models import AT_RISK_LEVELS
    from playbooks.demo import AT_RISK_PLAYBOOK
    from playbooks.effectiveness import playbook_effectiveness
    from playbooks.models import Delivery, Note, Playbook, PlaybookRun, Task, WebhookEndpoint
    from playbooks.services import (
        score_events_process_all,
        state_triggers_evaluate,
        step_runs_due_execute,
    )
    from scoring.models import AccountHealth, HealthScore, ScoreEvent, ScoringModel
    from scoring.services import (
        scoring_model_activate,
        scoring_model_new_version,
        scoring_run_create,
        scoring_run_execute,
    )

    demo_accounts_delete()
    ScoringModel.objects.filter(key__in=["standard", "enterprise-points"]).delete()
    Playbook.objects.all().delete()
    started = time.perf_counter()
    call_command("seed_demo", "--reset", "--accounts", str(accounts), stdout=io.StringIO())
    seconds = time.perf_counter() - started
    lines = [
        f"Measured on `seed_demo --accounts {accounts:,}` (90 days of history, seed 42; "
        f"seeded in {seconds:.0f} s) with `bench/playbook_trust.py` on "
        f"{timezone.localdate():%d %b %Y}.",
        "",
    ]

    # Flap control: the raw bands score by score (what a band change would be without
    # it) against the confirmed ones.
    history: dict[int, list[tuple[str, str]]] = {}
    for account_id, raw, raw_level, level in HealthScore.objects.order_by(
        "account_id", "computed_at"
    ).values_list("account_id", "band__name", "band__level", "confirmed_band__level"):
        history.setdefault(account_id, []).append((raw, raw_level, level))
    raw_changes = raw_entries = confirmed_entries = 0
    for rows in history.values():
        raw_changes += sum(1 for a, b in pairwise(rows) if a[0] and b[0] and a[0] != b[0])
        for column, counter in ((1, "raw"), (2, "confirmed")):
            entries = sum(
                1
                for a, b in pairwise(rows)
                if a[column] not in AT_RISK_LEVELS and b[column] in AT_RISK_LEVELS
            )
            if counter == "raw":
                raw_entries += entries
            else:
                confirmed_entries += entries
    confirmed = ScoreEvent.objects.filter(kind="band_changed", from_band__isnull=False).count()
    lines += [
        "| flap control (2 points, 2 scorings) | raw bands | confirmed bands |",
        "|---|---:|---:|",
        f"| band changes from one scoring to the next | {raw_changes:,} | {confirmed:,} |",
        f"| entries into At risk or worse | {raw_entries:,} | {confirmed_entries:,} |",
        "",
        f"Over {HealthScore.objects.count():,} scorings: without flap control the same "
        f"history would have raised {raw_entries:,} at-risk alarms; with it, "
        f"{confirmed_entries:,} ({_pct(raw_entries - confirmed_entries, raw_entries)} fewer).",
        "",
    ]

    # One vocabulary: who is at risk or worse today, by model, and whether acted on.
    at_risk = Playbook.objects.get(name=AT_RISK_PLAYBOOK)
    lines += [
        "| model | customers at risk or worse today | of them with an at-risk run |",
        "|---|---:|---:|",
    ]
    customers = AccountHealth.objects.filter(
        level__in=AT_RISK_LEVELS, account__churned_at__isnull=True
    )
    for model in ScoringModel.objects.filter(status="active").order_by("key"):
        mine = customers.filter(model=model)
        ran = mine.filter(account__playbook_runs__playbook=at_risk).distinct().count()
        lines.append(f"| {model} | {mine.count():,} | {ran:,} |")
    lines.append("")

    # The loop.
    runs = dict(PlaybookRun.objects.values_list("status").annotate(n=Count("pk")))
    tasks = dict(Task.objects.values_list("status").annotate(n=Count("pk")))
    merged = Note.objects.filter(body__startswith="Triggered again").count()
    lines += [
        "| the loop over the history | |",
        "|---|---:|",
        f"| runs | {sum(runs.values()):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(runs.items()))}) |",
        f"| tasks | {sum(tasks.values()):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(tasks.items()))}) |",
        f"| re-triggers added to an open task instead of a second one | {merged:,} |",
        "",
    ]

    # Did it work?
    now = timezone.now()
    report = playbook_effectiveness(
        playbook=at_risk, since=now - dt.timedelta(days=180), until=now, days=21, now=now
    )
    lines += [
        f"Effectiveness of “{AT_RISK_PLAYBOOK}” (hold-out {at_risk.holdout_pct} % of the "
        f"accounts under {at_risk.holdout_arr_max:,.0f} ARR; outcomes 21 days after each run):",
        "",
        "| | runs | old enough | recovered a level | retained |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, arm in (("acted on", report.acted), ("held out", report.held_out)):
        lines.append(
            f"| {name} | {arm.runs:,} | {arm.mature:,} | {arm.recovered:,} "
            f"({_pct(arm.recovered, arm.mature)}) | {arm.retained:,} "
            f"({_pct(arm.retained, arm.mature)}) |"
        )
    for name, effect in (
        ("recovered", report.recovered_effect),
        ("retained", report.retained_effect),
    ):
        if effect is not None:
            lines.append(
                f"| difference, {name} | | | {_points(effect.difference)} pts "
                f"(95 % CI {_points(effect.lower)} to {_points(effect.upper)}) | |"
            )
    lines += [
        "",
        f"Tasks of the runs acted on: {report.tasks['total']:,} (done {report.tasks['done']:,}, "
        f"resolved by recovery {report.tasks['resolved']:,}, open "
        f"{report.tasks['open'] + report.tasks['snoozed']:,}); median time to done "
        f"{report.median_days_to_done:.1f} days.",
        "",
    ]

    # No alarms from configuration.
    WebhookEndpoint.objects.filter(name="Trust check").delete()
    endpoint = WebhookEndpoint.objects.create(
        name="Trust check", url="https://crm.example.com/hook", events=["account.band_changed"]
    )
    standard = ScoringModel.objects.get(key="standard", status="active")
    before = {
        "events": ScoreEvent.objects.count(),
        "tasks": Task.objects.count(),
        "acted": PlaybookRun.objects.exclude(status__in=PlaybookRun.QUIET).count(),
    }
    draft = scoring_model_new_version(model=standard)
    draft.components.filter(metric__key="logins").update(weight=35)
    draft.components.filter(metric__key="seats_used_pct").update(weight=5)
    scoring_model_activate(model=draft)
    # Minutes apart: the data has not changed (a day later, windows would have slid).
    for minutes in (1, 2):
        at = now + dt.timedelta(minutes=minutes)
        scoring_run_execute(run=scoring_run_create(as_of=at))
        score_events_process_all(now=at, dispatch=False)
        state_triggers_evaluate(now=at, dispatch=False)
        step_runs_due_execute(now=at)
    new_events = ScoreEvent.objects.filter(kind="band_changed").order_by("-pk")[
        : ScoreEvent.objects.count() - before["events"]
    ]
    changes = ScoreEvent.objects.filter(kind="band_changed", pk__in=[e.pk for e in new_events])
    lines += [
        "Activating a re-weighted version of the standard model (logins 25 → 35 %, seats "
        "15 → 5 %) and recomputing the book twice, a minute apart, with no new data:",
        "",
        "| | |",
        "|---|---:|",
        f"| band changes | {changes.count():,} (re-baselines: "
        f"{changes.filter(rebaseline=True).count():,}) |",
        f"| runs acted on | {PlaybookRun.objects.exclude(status__in=PlaybookRun.QUIET).count() - before['acted']:,} |",
        f"| runs recorded as re-baselines, not acted on | "
        f"{PlaybookRun.objects.filter(status='skipped').count():,} |",
        f"| tasks made | {Task.objects.count() - before['tasks']:,} |",
        f"| `account.band_changed` deliveries | "
        f"{Delivery.objects.filter(endpoint=endpoint, event='account.band_changed').count():,} |",
        "",
    ]
    return "\n".join(lines)


def write_docs(path: Path, text: str) -> None:
    start, end = f"<!-- {MARKER}: begin -->", f"<!-- {MARKER}: end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    content = path.read_text()
    if start in content and end in content:
        before, rest = content.split(start, 1)
        _, after = rest.split(end, 1)
        content = before + block + after
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.write_text(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--docs", default=str(DOCS), help="'' to print only")
    args = parser.parse_args()
    django_setup()
    text = measure(args.accounts)
    print(text)
    if args.docs:
        write_docs(Path(args.docs), text)


if __name__ == "__main__":
    main()
