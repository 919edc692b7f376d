"""Renewal outcomes through the one write path: each refusal (nothing written), the
effects on the account and its ARR history, and a churn closing the account's open work."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import Account, ArrChange
from accounts.services import account_upsert, accounts_bulk_upsert
from playbooks.models import Task
from renewals.models import RenewalOutcome, RenewalReason
from renewals.services import OutcomeInvalid, months_after, outcome_record

pytestmark = pytest.mark.django_db

RENEWAL = dt.date(2027, 1, 1)


def record(account, kind, **fields) -> RenewalOutcome:
    return outcome_record(account=account, kind=kind, now=timezone.now(), **fields)


def test_the_default_reasons_cover_losses_and_growth(db):
    codes = set(RenewalReason.objects.values_list("code", flat=True))
    assert {"price", "champion_left", "competitor", "more_seats", "new_team"} <= codes
    assert set(RenewalReason.objects.values_list("applies_to", flat=True)) == {
        "loss",
        "growth",
        "any",
    }


def test_a_renewal_keeps_the_arr_and_moves_the_date_on_a_term(book, alice):
    acme = book["alice"]
    outcome = record(acme, "renewed", reasons=["value_proven"], recorded_by=alice)
    acme.refresh_from_db()
    assert (outcome.renewal_date, outcome.arr_before, outcome.arr_after) == (
        RENEWAL, Decimal("12000.00"), Decimal("12000.00"),
    )  # fmt: skip
    assert acme.renewal_date == dt.date(2028, 1, 1) == outcome.next_renewal
    assert acme.arr == Decimal("12000")
    assert [r.code for r in outcome.reasons.all()] == ["value_proven"]
    assert not ArrChange.objects.filter(account=acme).exists()  # the ARR did not change


def test_an_expansion_sets_the_new_arr_and_keeps_it_as_history(book):
    acme = book["alice"]
    record(acme, "expanded", arr_after="15,000", reasons=["more_seats", "new_team"],
           next_renewal=dt.date(2027, 7, 1))  # fmt: skip
    acme.refresh_from_db()
    assert (acme.arr, acme.renewal_date) == (Decimal("15000.00"), dt.date(2027, 7, 1))
    change = ArrChange.objects.get(account=acme)
    assert (change.arr_before, change.arr_after, change.source, change.effective_date) == (
        Decimal("12000.00"), Decimal("15000.00"), "outcome", RENEWAL,
    )  # fmt: skip


def test_a_downgrade_lowers_the_arr(book):
    acme = book["alice"]
    record(acme, "downgraded", arr_after=9000, reasons=["price"])
    acme.refresh_from_db()
    assert acme.arr == Decimal("9000.00")


def test_a_churn_sets_the_churn_date_and_stage_and_closes_the_open_work(book, alice):
    acme = book["alice"]
    today = timezone.localdate()
    acme.renewal_date = today - dt.timedelta(days=3)
    acme.save(update_fields=["renewal_date"])
    task = Task.objects.create(
        account=acme, title="Prepare the QBR", assignee=alice, due_date=today
    )
    other = Task.objects.create(
        account=book["bob"], title="Not this one", assignee=alice, due_date=today
    )
    outcome = record(acme, "churned", reasons=["competitor", "price"])
    acme.refresh_from_db()
    task.refresh_from_db()
    other.refresh_from_db()
    assert (outcome.arr_after, outcome.churned_at) == (Decimal("0.00"), acme.renewal_date)
    assert (acme.churned_at, acme.lifecycle_stage) == (outcome.renewal_date, "churned")
    assert acme.arr == Decimal("12000")  # what they paid when they left
    assert task.status == Task.Status.CANCELLED
    assert task.close_reason.startswith("Account churned on")
    assert other.status == Task.Status.OPEN


def test_a_churn_ahead_leaves_the_work_open_until_its_day(book, alice):
    """The churn rule of the periodic tick: an account churned on a day is gone that day."""
    acme = book["alice"]
    task = Task.objects.create(
        account=acme, title="Save them", assignee=alice, due_date=timezone.localdate()
    )
    record(acme, "churned")
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


@pytest.mark.parametrize(
    ("kind", "fields", "where", "says"),
    [
        ("renewed", {"arr_after": 13000}, "arr_after", "A renewal keeps the ARR (12,000.00)"),
        ("expanded", {}, "arr_after", "Give the new ARR."),
        ("expanded", {"arr_after": 11000}, "arr_after", "An expansion raises the ARR above"),
        ("downgraded", {"arr_after": 12500}, "arr_after", "A downgrade lowers the ARR below"),
        ("downgraded", {"arr_after": 0}, "arr_after", "(0 is a churn)"),
        ("downgraded", {"arr_after": "lots"}, "arr_after", "'lots' is not an amount."),
        ("churned", {"arr_after": 10}, "arr_after", "A churned customer's new ARR is 0."),
        ("renewed", {"reasons": ["price", "budget_cut", "competitor", "acquired"]}, "reasons",
         "At most 3 reasons (4 given)."),
        ("renewed", {"reasons": ["astrology"]}, "reasons", "'astrology' is not a renewal reason."),
        ("renewed", {"reasons": ["price", "price"]}, "reasons", "A reason is given twice."),
        ("renewed", {"next_renewal": dt.date(2026, 12, 1)}, "next_renewal",
         "The next renewal comes after this one (01 Jan 2027)."),
        ("sold", {}, "kind", "'sold' is not an outcome"),
    ],
)  # fmt: skip
def test_bad_outcomes_are_refused_saying_where_and_nothing_is_written(
    book, kind, fields, where, says
):
    acme = book["alice"]
    with pytest.raises(OutcomeInvalid) as refused:
        record(acme, kind, **fields)
    assert says in " ".join(refused.value.fields[where])
    acme.refresh_from_db()
    assert (acme.arr, acme.renewal_date, acme.churned_at) == (Decimal("12000"), RENEWAL, None)
    assert not RenewalOutcome.objects.exists()
    assert not ArrChange.objects.exists()


def test_an_inactive_reason_is_refused(book):
    RenewalReason.objects.filter(code="price").update(active=False)
    with pytest.raises(OutcomeInvalid) as refused:
        record(book["alice"], "downgraded", arr_after=9000, reasons=["price"])
    assert refused.value.fields == {"reasons": ["Price is no longer offered."]}


def test_a_second_outcome_for_the_same_renewal_and_one_for_a_churned_account_are_refused(book):
    acme, borealis = book["alice"], book["bob"]
    record(acme, "renewed")
    with pytest.raises(OutcomeInvalid) as refused:
        record(acme, "expanded", arr_after=20000, renewal_date=RENEWAL)
    assert refused.value.fields == {
        "renewal_date": ["Acme Analytics already has an outcome for its renewal of 01 Jan 2027."]
    }
    record(borealis, "churned")
    with pytest.raises(OutcomeInvalid) as refused:
        record(borealis, "renewed", renewal_date=dt.date(2028, 1, 1))
    assert refused.value.fields["account"] == ["Borealis Bank churned on 01 Jan 2027."]
    assert RenewalOutcome.objects.count() == 2


def test_the_database_holds_the_arr_to_the_kind(book):
    outcome = record(book["alice"], "expanded", arr_after=15000)
    with pytest.raises(IntegrityError):
        RenewalOutcome.objects.filter(pk=outcome.pk).update(arr_after=Decimal("100"))


def test_months_after_keeps_the_day_or_takes_the_months_last():
    assert months_after(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert months_after(dt.date(2027, 11, 15), 12) == dt.date(2028, 11, 15)
    assert months_after(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)


# --- ARR history from the accounts write path ---------------------------------------------------


def test_every_door_of_the_accounts_write_path_keeps_arr_changes(db):
    result = accounts_bulk_upsert(
        rows=[
            {"external_id": "a", "name": "A", "arr": Decimal("100")},
            {"external_id": "b", "name": "B", "arr": Decimal("0")},
            {"external_id": "c", "name": "C"},
        ],
        arr_source="import",
        arr_effective=dt.date(2026, 1, 1),
    )
    assert sorted(result.created) == ["a", "b", "c"]
    assert list(ArrChange.objects.values_list("account__external_id", "arr_before", "arr_after",
                                              "source", "effective_date")) == [
        ("a", Decimal("0.00"), Decimal("100.00"), "import", dt.date(2026, 1, 1)),
    ]  # fmt: skip
    accounts_bulk_upsert(
        rows=[
            {"external_id": "a", "arr": Decimal("100")},  # unchanged: no row
            {"external_id": "b", "arr": Decimal("50")},
            {"external_id": "c", "name": "C renamed"},
        ],
        arr_source="api",
    )
    account_upsert(external_id="a", arr=Decimal("80"), arr_source="admin")
    rows = ArrChange.objects.order_by("id").values_list(
        "account__external_id", "arr_before", "arr_after", "source"
    )
    assert list(rows)[1:] == [
        ("b", Decimal("0.00"), Decimal("50.00"), "api"),
        ("a", Decimal("100.00"), Decimal("80.00"), "admin"),
    ]
    assert Account.objects.get(external_id="a").arr == Decimal("80")
