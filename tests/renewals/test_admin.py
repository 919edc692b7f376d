"""Outcomes recorded in Django admin go through ``outcome_record``: its refusals beside
the fields, its effects on the account; a recorded outcome is read only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from renewals.models import RenewalOutcome, RenewalReason

pytestmark = pytest.mark.django_db

ADD = "/admin/renewals/renewaloutcome/add/"


def test_admin_records_an_outcome_through_the_write_path(book, ada, client_as):
    client = client_as(ada)
    acme = book["alice"]
    refused = client.post(ADD, {"account": acme.pk, "kind": "expanded", "arr_after": "100"})
    assert refused.status_code == 200
    assert "An expansion raises the ARR above 12,000.00." in refused.content.decode()
    assert not RenewalOutcome.objects.exists()

    done = client.post(
        ADD,
        {"account": acme.pk, "kind": "expanded", "arr_after": "20000",
         "reasons": [RenewalReason.objects.get(code="more_seats").pk]},
    )  # fmt: skip
    assert done.status_code == 302, done.content.decode()[:2000]
    outcome = RenewalOutcome.objects.get()
    acme.refresh_from_db()
    assert (outcome.recorded_by, acme.arr) == (ada, Decimal("20000.00"))
    assert [r.code for r in outcome.reasons.all()] == ["more_seats"]
    change = client.get(f"/admin/renewals/renewaloutcome/{outcome.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
