"""Work on next (workspace/ranking.py): a person's own customers by a priority an admin
weighs, each with why in words; one statement on both databases, whatever the size of
the book; the home page shows it."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from playbooks.models import Note, Task
from scoring.models import AccountHealth, HealthScore
from tests.factories import AccountFactory
from tests.scoring.builders import make_model
from workspace.models import PriorityWeights
from workspace.ranking import money, work_on_next
from workspace.services import priority_weights_save

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def health(account, model, *, level: str, trend: float | None = None) -> None:
    score = HealthScore.objects.create(
        account=account, model=model, score=50, completeness=1, computed_at=NOW
    )
    AccountHealth.objects.create(
        account=account,
        health_score=score,
        model=model,
        score=50,
        level=level,
        completeness=1,
        computed_at=NOW,
        trend_30d=trend,
    )


@pytest.fixture
def book(alice, bob):
    """Alice's accounts, each needing something else; one of Bob's; one churned."""
    model = make_model(
        "health", components=[{"metric": "logins", "weight": 100}], bands=[("Low", 0), ("High", 50)]
    )
    made = {
        "critical": AccountFactory(
            name="Critical Co", owner=alice, arr=Decimal("768000"), renewal_date=None
        ),
        "renewing": AccountFactory(
            name="Renewing Co",
            owner=alice,
            arr=Decimal("9000"),
            renewal_date=TODAY + dt.timedelta(days=18),
        ),
        "late": AccountFactory(name="Late Co", owner=alice, arr=Decimal("1000"), renewal_date=None),
        "quiet": AccountFactory(
            name="Quiet Co", owner=alice, arr=Decimal("50000"), renewal_date=None
        ),
        "falling": AccountFactory(
            name="Falling Co", owner=alice, arr=Decimal("20000"), renewal_date=None
        ),
        "bobs": AccountFactory(
            name="Bob's Co", owner=bob, arr=Decimal("900000"), renewal_date=None
        ),
        "gone": AccountFactory(
            name="Gone Co", owner=alice, arr=Decimal("5000000"), churned_at=TODAY - dt.timedelta(1)
        ),
    }
    health(made["critical"], model, level="critical")
    health(made["renewing"], model, level="healthy")
    health(made["late"], model, level="healthy")
    health(made["quiet"], model, level="neutral")
    health(made["falling"], model, level="at_risk", trend=-14.0)
    health(made["bobs"], model, level="critical")
    # Touches: recent for all but Quiet Co (60 days ago) and Falling Co (never).
    for key in ("critical", "renewing", "late"):
        Note.objects.create(account=made[key], author=alice, body="call", created_at=NOW)
    Note.objects.create(
        account=made["quiet"], author=alice, body="call", created_at=NOW - dt.timedelta(days=60)
    )
    Note.objects.create(account=made["falling"], author=None, body="automated", created_at=NOW)
    for days in (3, 5):
        Task.objects.create(
            account=made["late"], title="chase", assignee=alice, due_date=TODAY - dt.timedelta(days)
        )
    Task.objects.create(  # snoozed until tomorrow: not overdue
        account=made["late"],
        title="later",
        assignee=alice,
        due_date=TODAY - dt.timedelta(9),
        status="snoozed",
        snoozed_until=TODAY + dt.timedelta(1),
    )
    return made


def expected_points(*, level: float, arr: float, renewal=0.0, overdue=0, drop=0.0, days=0.0):
    w = PriorityWeights()
    return (
        level
        + w.arr * math.log10(1 + arr / 1000)
        + renewal
        + w.overdue * overdue
        + w.drop * drop / 10
        + w.untouched * min(days, 90) / 30
    )


def test_alices_accounts_come_by_priority_each_saying_why(book, alice):
    ranked = work_on_next(user=alice, today=TODAY, now=NOW)
    w = PriorityWeights()

    # Falling Co: 25 + 6.6 (ARR) + 14 (fell 14 points) + 15 (never touched) = 60.6;
    # Critical Co 54.4; Renewing Co 29.0; Quiet Co 23.5; Late Co 21.5.
    assert [item.account.name for item in ranked] == [
        "Falling Co",
        "Critical Co",
        "Renewing Co",
        "Quiet Co",
        "Late Co",
    ]  # not Bob's, not the churned one
    by_name = {item.account.name: item for item in ranked}
    assert by_name["Critical Co"].priority == pytest.approx(
        expected_points(level=w.critical, arr=768000)
    )
    assert by_name["Falling Co"].priority == pytest.approx(
        expected_points(level=w.at_risk, arr=20000, drop=14, days=90)
    )
    assert by_name["Renewing Co"].priority == pytest.approx(
        expected_points(level=0, arr=9000, renewal=w.renewal * (1 - 18 / 90))
    )
    assert by_name["Late Co"].priority == pytest.approx(
        expected_points(level=0, arr=1000, overdue=2)
    )
    assert by_name["Quiet Co"].priority == pytest.approx(
        expected_points(level=w.neutral, arr=50000, days=60)
    )
    assert by_name["Critical Co"].why == "Critical · $768k"
    assert by_name["Falling Co"].why == "At risk · $20k · no touch on record · score −14 in 30 days"
    assert by_name["Renewing Co"].why == "Healthy · $9k · renews in 18 days"
    assert by_name["Late Co"].why == "Healthy · $1k · 2 overdue tasks"
    assert by_name["Quiet Co"].why == "Neutral · $50k · no touch for 60 days"


def test_an_admin_reweighs_the_priority_and_the_order_follows(book, alice):
    weights = PriorityWeights.current()
    weights.overdue = 100
    priority_weights_save(weights=weights)

    ranked = work_on_next(user=alice, today=TODAY, now=NOW)
    assert ranked[0].account.name == "Late Co"
    assert PriorityWeights.objects.get().overdue == 100


def test_weights_out_of_bounds_are_refused_naming_the_field(db):
    weights = PriorityWeights.current()
    weights.drop = -1
    with pytest.raises(ValidationError) as refused:
        priority_weights_save(weights=weights)
    assert "drop" in refused.value.message_dict
    assert not PriorityWeights.objects.exists()


def test_a_passed_renewal_counts_in_full_and_says_so(alice, db):
    AccountFactory(
        name="Overdue renewal", owner=alice, arr=Decimal("0"), renewal_date=TODAY - dt.timedelta(3)
    )
    (item,) = work_on_next(user=alice, today=TODAY, now=NOW)
    assert item.why == "Not scored · $0 · renewal passed 3 days ago · no touch on record"


def test_one_statement_for_the_list_whatever_its_size(book, alice, django_assert_num_queries):
    weights = PriorityWeights.current()
    with django_assert_num_queries(2):  # the ranking, then its accounts with their health
        few = work_on_next(user=alice, today=TODAY, now=NOW, weights=weights)
    for n in range(30):
        AccountFactory(name=f"More {n}", owner=alice)
    with django_assert_num_queries(2):
        many = work_on_next(user=alice, today=TODAY, now=NOW, weights=weights)
    assert len(few) == 5 and len(many) == 10


def test_the_home_page_shows_work_on_next(book, alice, client_as):
    body = client_as(alice).get("/").content.decode()
    section = body[body.index('id="work-on-next"') :]
    assert section.index("Falling Co") < section.index("Critical Co") < section.index("Late Co")
    assert "At risk · $20k" in section


@pytest.mark.parametrize(
    "value, text",
    [(0, "$0"), (950, "$950"), (9_400, "$9k"), (768_000, "$768k"), (1_240_000, "$1.2M")],
)
def test_money_in_short(value, text):
    assert money(Decimal(value)) == text


def test_the_admin_edits_the_one_set_of_weights(client_as, ada, alice):
    client = client_as(ada)
    page = client.get("/admin/workspace/priorityweights/")
    assert page.status_code == 302
    url = page["Location"]
    fields = (*PriorityWeights.WEIGHTS, "renewal_horizon_days")
    form = {name: str(getattr(PriorityWeights(), name)) for name in fields}
    form["renewal_horizon_days"] = "0"
    refused = client.post(url, form)
    assert refused.status_code == 200 and "greater than or equal to 1" in refused.content.decode()
    assert not PriorityWeights.objects.exists()
    form["renewal_horizon_days"] = "120"
    assert client.post(url, form).status_code == 302
    assert PriorityWeights.current().renewal_horizon_days == 120
    assert client_as(alice).get(url).status_code == 302  # a CSM is sent to log in


def test_each_ranked_account_carries_the_persons_open_tasks_in_queue_order(alice, bob, book):
    import datetime as dt

    from django.utils import timezone

    from playbooks.models import Task
    from workspace.ranking import work_on_next

    today = timezone.localdate()
    acme = book["critical"]
    late = Task.objects.create(
        account=acme, title="Late", assignee=alice, due_date=today - dt.timedelta(days=2)
    )
    urgent = Task.objects.create(
        account=acme, title="Urgent", assignee=alice, due_date=today, priority="urgent"
    )
    normal = Task.objects.create(account=acme, title="Normal", assignee=alice, due_date=today)
    Task.objects.create(
        account=acme, title="Fourth", due_date=today + dt.timedelta(days=9)
    )  # unassigned
    Task.objects.create(account=acme, title="Bob's", assignee=bob, due_date=today)  # not hers
    Task.objects.create(account=acme, title="Done", assignee=alice, due_date=today, status="done")

    [item] = [i for i in work_on_next(user=alice, today=today, with_tasks=3) if i.account == acme]
    assert [t.title for t in item.tasks] == [late.title, urgent.title, normal.title]
    assert item.more_tasks == 1
    assert all(i.tasks == [] for i in work_on_next(user=alice, today=today))  # not asked


def test_the_work_on_next_view_shows_cards_acted_on_in_place(client_as, alice, book):
    import datetime as dt

    from django.utils import timezone

    from playbooks.models import Task

    task = Task.objects.create(
        account=book["critical"],
        title="Call Acme",
        assignee=alice,
        due_date=timezone.localdate() - dt.timedelta(days=1),
    )
    page = client_as(alice).get("/tasks/next/").content.decode()
    assert "<h1>Work on next</h1>" in page
    assert f'id="task-{task.pk}"' in page and 'data-action="complete"' in page
    assert "1 overdue task" in page  # the reasons, as on the home page
    home = client_as(alice).get("/").content.decode()
    assert f'href="/accounts/{book["critical"].pk}/#task-{task.pk}">Call Acme</a>' in home
    assert client_as(alice).get("/tasks/next/").status_code == 200
