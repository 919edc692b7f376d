"""The churn cut-off (an account churned on a day is gone that day) is one rule in three
forms, for Python, the ORM and SQL: they agree on every churn date around the day."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from accounts.models import Account
from accounts.selectors import churned_q, customers_q, customers_sql, is_customer
from tests.factories import AccountFactory

DAY = dt.date(2026, 6, 15)


def test_python_orm_and_sql_agree_on_who_was_still_a_customer(db):
    churn_dates = [None, *(DAY + dt.timedelta(days=d) for d in (-400, -1, 0, 1, 30))]
    accounts = {AccountFactory(churned_at=churned_at).pk: churned_at for churned_at in churn_dates}

    by_python = {pk for pk, churned_at in accounts.items() if is_customer(churned_at, on=DAY)}
    by_orm = set(Account.objects.filter(customers_q(on=DAY)).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT a.id FROM accounts_account a WHERE {customers_sql('a')}", [DAY])
        by_sql = {pk for (pk,) in cursor.fetchall()}
    churned = set(Account.objects.filter(churned_q(on=DAY)).values_list("pk", flat=True))

    assert by_python == by_orm == by_sql
    # Churned on the day itself is gone; churned the day after was still a customer.
    assert {accounts[pk] for pk in by_python} == {
        None,
        DAY + dt.timedelta(days=1),
        DAY + dt.timedelta(days=30),
    }
    assert churned == set(accounts) - by_python
