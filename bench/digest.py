#!/usr/bin/env python
"""The daily digests of 500 people, timed: the job that writes them and the sending.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitals_bench_digest \\
        .venv/bin/python bench/digest.py --people 500

Steps:

1. the data, in the benchmark's own database (its name must contain "bench"; it is
   dropped and created): ``--people`` CSMs in teams of 50, each team with a manager,
   each CSM owning ``--accounts`` accounts with 20 tasks (5 overdue, 5 due today, 10
   upcoming) and 10 unread notifications from the last day, everyone opted in to the
   digest at an hour that has come;
2. ``workspace.digest.digests_send`` as the quarter-hourly job runs it: who is due,
   each digest built and handed to the outbound deliveries (the deliveries' messages go
   to a queue of this benchmark's own, read by no worker); its wall time and queries;
3. the deliveries sent in this process (``deliveries_due_send``, Django's in-memory
   email backend): the time to build and send every email;
4. the job again: it must find nobody due (once a day) and say so fast.

The figures are printed as Markdown and written into docs/benchmarks.md between this
benchmark's markers (``--docs ''`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import recreate_database  # noqa: E402

BEGIN = "<!-- bench/digest.py: begin -->"
END = "<!-- bench/digest.py: end -->"
HEADING = "## The daily digests"


def seed(*, people: int, accounts_each: int, now: dt.datetime) -> None:
    from accounts.models import Account, Team, User
    from notifications.models import Kind, Notification, NotificationSettings
    from playbooks.models import Task

    today = now.date()
    users = User.objects.bulk_create(
        [
            User(username=f"csm{n}", first_name=f"Csm{n}", email=f"csm{n}@example.com", role="csm")
            for n in range(people)
        ]
    )
    managers = User.objects.bulk_create(
        [
            User(
                username=f"mgr{n}",
                first_name=f"Mgr{n}",
                email=f"mgr{n}@example.com",
                role="manager",
            )
            for n in range((people + 49) // 50)
        ]
    )
    for n, manager in enumerate(managers):
        team = Team.objects.create(name=f"Team {n}")
        team.managers.add(manager)
        team.members.add(*users[n * 50 : (n + 1) * 50])
    accounts = Account.objects.bulk_create(
        [
            Account(
                external_id=f"acct-{u}-{a}",
                name=f"Account {u}-{a}",
                owner=user,
                arr=1000 * (a + 1),
                renewal_date=today + dt.timedelta(days=a % 120),
            )
            for u, user in enumerate(users)
            for a in range(accounts_each)
        ],
        batch_size=5000,
    )
    by_owner: dict[int, list] = {}
    for account in accounts:
        by_owner.setdefault(account.owner_id, []).append(account)
    tasks, notes = [], []
    for user in users:
        mine = by_owner[user.pk]
        for n in range(20):
            due = -1 - n if n < 5 else (0 if n < 10 else n)
            tasks.append(
                Task(
                    account=mine[n % len(mine)],
                    assignee=user,
                    title=f"Task {n} for {user.username}",
                    due_date=today + dt.timedelta(days=due),
                    created_at=now,
                )
            )
        for n in range(10):
            account = mine[n % len(mine)]
            notes.append(
                Notification(
                    user=user,
                    kind=Kind.LEVEL_WORSE if n % 2 else Kind.TASK_ASSIGNED,
                    account=account,
                    title=f"{account.name} is now At-risk (was Neutral) · score {30 + n}",
                    url=account.get_absolute_url(),
                    key=f"bench:{user.pk}:{n}",
                    created_at=now - dt.timedelta(hours=n + 1),
                )
            )
    Task.objects.bulk_create(tasks, batch_size=5000)
    Notification.objects.bulk_create(notes, batch_size=5000)
    NotificationSettings.objects.bulk_create(
        [
            NotificationSettings(user=user, digest=True, digest_hour=0, time_zone="UTC")
            for user in [*users, *managers]
        ]
    )


def timed(job):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = job()
        elapsed = time.perf_counter() - started
    return result, elapsed, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=100, help="accounts per CSM")
    parser.add_argument("--docs", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitals_bench_digest")
    recreate_database(url)
    os.environ.update(
        DATABASE_URL=url,
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="config.settings.local",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        CELERY_QUEUE="vitals-bench-digest",
    )
    import django

    django.setup()
    from django.core import mail
    from django.core.management import call_command
    from django.utils import timezone

    from config.celery import app
    from playbooks.models import Delivery
    from playbooks.services import deliveries_due_send
    from workspace.digest import digests_send

    call_command("migrate", verbosity=0)
    mail.outbox = []
    now = timezone.now().replace(hour=9, minute=5)
    started = time.perf_counter()
    seed(people=args.people, accounts_each=args.accounts, now=now)
    seeded = time.perf_counter() - started

    made, job_s, job_q = timed(lambda: digests_send(now=now))
    sent, send_s, _ = timed(lambda: deliveries_due_send(now=now + dt.timedelta(seconds=1)))
    again, again_s, again_q = timed(lambda: digests_send(now=now + dt.timedelta(minutes=15)))
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("vitals-bench-digest")

    digests = Delivery.objects.filter(event="digest").count()
    emails = len(mail.outbox)
    biggest = max(
        (len(m.body) + sum(len(a[0]) for a in m.alternatives) for m in mail.outbox), default=0
    )
    rows = [
        ("people opted in (CSMs and their managers)", f"{digests:,}"),
        (
            "accounts, tasks, notifications",
            f"{args.people * args.accounts:,}, {args.people * 20:,}, {args.people * 10:,}",
        ),
        (
            "the job: digests written and handed over",
            f"{made:,} in {job_s:.1f} s ({job_q / max(made, 1):.1f} queries each)",
        ),
        ("the sending: emails built and sent", f"{emails:,} in {send_s:.1f} s"),
        ("all of it", f"{job_s + send_s:.1f} s"),
        (
            "the job again a quarter hour later",
            f"{again} new in {again_s * 1000:.0f} ms, {again_q} queries",
        ),
        ("largest email (text + HTML)", f"{biggest / 1024:.1f} KiB"),
    ]
    assert sent["sent"] == emails == digests == made, (sent, emails, digests, made)
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    stamp = f"Measured {dt.date.today():%Y-%m-%d} on this machine (seeding took {seeded:.0f} s)."
    text = f"{stamp}\n\n{table}"
    print(text)
    if args.docs:
        path = Path(args.docs)
        block = f"{BEGIN}\n{text}\n{END}"
        body = path.read_text()
        if BEGIN in body:
            before, rest = body.split(BEGIN, 1)
            body = before + block + rest.split(END, 1)[1]
        else:
            body = (
                body.rstrip("\n")
                + f"\n\n{HEADING}\n\n`{' '.join(['bench/digest.py', *sys.argv[1:]])}`: "
            )
            body += (
                "the quarter-hourly digest job for 500 people, then the sending.\n\n" + block + "\n"
            )
        path.write_text(body)


if __name__ == "__main__":
    main()
