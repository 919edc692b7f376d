"""POST /api/v1/signals/: product analytics, a support desk and a survey tool send what
they see about each account, in batches of up to 5,000.

Personas from tests/conftest.py: ``book`` gives Alice, Bob and Charlie one account each
(acme, borealis, cobalt); Maggie manages Alice and Bob.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from accounts.tokens import api_token_create
from scoring.models import Signal
from scoring.serializers import SIGNALS_MAX_ROWS
from tests.api.conftest import client_with
from tests.scoring.builders import make_metric

URL = "/api/v1/signals/"
AT = "2026-11-01T10:00:00Z"


@pytest.fixture
def metrics(db):
    make_metric("logins", rollup="sum")
    make_metric("nps")
    make_metric("open_tickets")


def send(api, rows):
    return api.post(URL, {"signals": rows}, format="json")


def signal(account="acme", metric="logins", value=12, timestamp=AT, **extra) -> dict:
    return {"account": account, "metric": metric, "value": value, "timestamp": timestamp, **extra}


def stored() -> list[tuple]:
    return list(
        Signal.objects.order_by("id").values_list(
            "account__external_id", "metric__key", "value", "timestamp", "source", "client_id"
        )
    )


# --- a batch -------------------------------------------------------------------------------


def test_good_rows_are_stored_bad_rows_reported_by_index_and_repeats_counted(book, metrics, api_as):
    api = api_as("signals:write")
    response = send(
        api,
        [
            signal(id="u-1", source="product"),  # 0: good
            signal(account="nobody"),  # 1: unknown account
            signal(metric="karma", value="lots"),  # 2: unknown metric, not a number
            signal(account="borealis", metric="nps", value="9", timestamp="2026-11-02"),  # 3
            signal(id="u-1", value=99),  # 4: repeats the id of row 0
            signal(account="cobalt", timestamp="2026-11-01T12:00:00+02:00"),  # 5: no id
        ],
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": 3,
        "duplicates": 1,
        "rejected": [
            {"index": 1, "errors": {"account": ["Unknown account 'nobody'."]}},
            {
                "index": 2,
                "errors": {
                    "metric": ["Unknown metric 'karma'."],
                    "value": ["'lots' is not a number."],
                },
            },
        ],
    }
    utc = dt.UTC
    assert stored() == [
        ("acme", "logins", 12.0, dt.datetime(2026, 11, 1, 10, tzinfo=utc), "product", "u-1"),
        ("borealis", "nps", 9.0, dt.datetime(2026, 11, 2, tzinfo=utc), "", None),
        ("cobalt", "logins", 12.0, dt.datetime(2026, 11, 1, 10, tzinfo=utc), "", None),
    ]


def test_a_batch_sent_again_stores_only_the_rows_without_an_id(book, metrics, api_as):
    api = api_as("signals:write")
    rows = [signal(id=f"u-{i}", value=i) for i in range(5)] + [signal(value=100)]
    first = send(api, rows).json()
    again = send(api, rows).json()
    overlapping = send(api, [signal(id="u-4"), signal(id="u-5")]).json()

    assert (first["accepted"], first["duplicates"]) == (6, 0)
    # An id is what makes a row recognisable: the one without an id is a new observation.
    assert (again["accepted"], again["duplicates"]) == (1, 5)
    assert (overlapping["accepted"], overlapping["duplicates"]) == (1, 1)
    assert Signal.objects.filter(client_id__isnull=False).count() == 6
    assert Signal.objects.count() == 8


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"metric": "logins", "value": 1, "timestamp": AT}, "account", "This field is required."),
        (signal(account=""), "account", "This field is required."),
        (signal(account={"id": 1}), "account", "Must be a string."),
        (signal(account="a" * 101), "account", "At most 100 characters."),
        (signal(account="acme\x00"), "account", "May not contain NUL (\\x00) characters."),
        (signal(metric=None), "metric", "This field is required."),
        (signal(metric="karma"), "metric", "Unknown metric 'karma'."),
        (signal(value=None), "value", "This field is required."),
        (signal(value="twelve"), "value", "'twelve' is not a number."),
        (signal(value=True), "value", "Must be a number, not true/false."),
        (signal(value=[1]), "value", "Must be a number."),
        (signal(value="NaN"), "value", "Must be a finite number."),
        (signal(value=10**400), "value", "Is too large for a number."),
        (signal(timestamp=None), "timestamp", "This field is required."),
        (
            signal(timestamp="yesterday"),
            "timestamp",
            "'yesterday' is not an ISO 8601 date-time (e.g. 2026-11-01T10:00:00Z).",
        ),
        (signal(timestamp="2026-02-30"), "timestamp", "'2026-02-30' is not an ISO 8601"),
        (
            signal(timestamp=1700000000),
            "timestamp",
            "Must be an ISO 8601 date-time string (e.g. 2026-11-01T10:00:00Z).",
        ),
        (
            signal(timestamp="0001-01-01T00:00:00+05:00"),
            "timestamp",
            "0001-01-01T00:00:00+05:00 is out of range once converted to UTC.",
        ),
        (signal(source="s" * 51), "source", "At most 50 characters."),
        (signal(source=["crm"]), "source", "Must be a string."),
        (signal(id="i" * 101), "id", "At most 100 characters."),
        (signal(id="a\x00b"), "id", "May not contain NUL (\\x00) characters."),
    ],
)
def test_each_bad_field_is_named_with_its_reason(book, metrics, api_as, row, field, message):
    response = send(api_as("signals:write"), [signal(), row])

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    [rejected] = body["rejected"]
    assert rejected["index"] == 1
    assert list(rejected["errors"]) == [field]
    assert rejected["errors"][field][0].startswith(message)


def test_a_timestamp_more_than_a_day_ahead_is_refused(book, metrics, api_as):
    soon = timezone.now() + dt.timedelta(hours=20)  # clocks drift: within a day is fine
    later = timezone.now() + dt.timedelta(days=2)
    body = send(
        api_as("signals:write"),
        [signal(timestamp=soon.isoformat()), signal(timestamp=later.isoformat())],
    ).json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["index"] == 1
    assert "is in the future" in body["rejected"][0]["errors"]["timestamp"][0]


def test_a_row_that_is_not_an_object_is_rejected_alone(book, metrics, api_as):
    body = send(api_as("signals:write"), [signal(), "acme,logins,12", None]).json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 1, "errors": {"non_field_errors": ["Each signal must be an object."]}},
        {"index": 2, "errors": {"non_field_errors": ["Each signal must be an object."]}},
    ]


@pytest.mark.parametrize(
    "body",
    [{}, {"signals": "acme,logins,12"}, {"signals": {"account": "acme"}}, [signal()], "hello"],
)
def test_a_body_without_a_list_of_signals_is_400_naming_it(book, metrics, api_as, body):
    response = api_as("signals:write").post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"signals": ["Expected a list of signal objects."]}


def test_malformed_json_is_400_in_the_error_shape(book, metrics, api_as):
    response = api_as("signals:write").generic(
        "POST", URL, '{"signals": [{"account": "acme",', content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "JSON parse error" in error["message"]
    assert not Signal.objects.exists()


def test_an_empty_batch_stores_nothing(book, metrics, api_as):
    response = send(api_as("signals:write"), [])
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_a_full_batch_is_taken_and_one_more_row_is_413_storing_nothing(book, metrics, api_as):
    api = api_as("signals:write")
    full = [signal(value=i, id=f"r-{i}") for i in range(SIGNALS_MAX_ROWS)]

    assert send(api, full).json()["accepted"] == SIGNALS_MAX_ROWS
    Signal.objects.all().delete()
    too_many = send(api, [*full, signal(id="one-more")])

    assert too_many.status_code == 413
    assert too_many.json() == {
        "error": {
            "code": "batch_too_large",
            "message": "At most 5,000 signals per request; this one has 5,001. "
            "Send them in several requests.",
        }
    }
    assert not Signal.objects.exists()


def test_a_batch_costs_the_same_queries_for_10_or_3000_rows(book, metrics, api_as):
    api = api_as("signals:write")
    send(api, [])  # the token's first use is recorded once; leave it out of the count

    def queries(n: int) -> int:
        rows = [
            signal(account=("acme", "borealis")[i % 2], value=i, id=f"{n}-{i}") for i in range(n)
        ]
        with CaptureQueriesContext(connection) as captured:
            assert send(api, rows).json()["accepted"] == n
        return len(captured)

    assert queries(10) == queries(3000) <= 8


# --- access --------------------------------------------------------------------------------


def test_a_persons_token_sends_signals_only_for_that_persons_accounts(book, metrics, api_as):
    alice = book["alice"].owner
    body = send(
        api_as("signals:write", user=alice),
        [signal("acme"), signal("borealis"), signal("nowhere")],
    ).json()

    # Bob's account reads exactly like one that does not exist.
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 1, "errors": {"account": ["Unknown account 'borealis'."]}},
        {"index": 2, "errors": {"account": ["Unknown account 'nowhere'."]}},
    ]
    assert stored()[0][0] == "acme"


def test_a_managers_token_reaches_the_teams_accounts(book, metrics, api_as, maggie):
    body = send(
        api_as("signals:write", user=maggie),
        [signal("acme"), signal("borealis"), signal("cobalt")],
    ).json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [2]


# --- the database has the last word --------------------------------------------------------


def _refuse_value(value: float) -> None:
    """Make the database itself refuse any signal with this value, as a constraint or a
    trigger of an operator's would: a refusal only the database can make."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_signal() RETURNS trigger AS $$ BEGIN"
                f" IF NEW.value = {value} THEN RAISE EXCEPTION 'refused by the database';"
                " END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse_signal BEFORE INSERT ON scoring_signal"
                " FOR EACH ROW EXECUTE FUNCTION test_refuse_signal()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse_signal BEFORE INSERT ON scoring_signal"
                f" WHEN NEW.value = {value}"
                " BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
            )


def test_a_batch_the_database_refuses_leaves_nothing_half_written(book, metrics, api_as):
    _refuse_value(-666)
    api = api_as("signals:write")
    api.raise_request_exception = False
    rows = [signal(value=i, id=f"r-{i}") for i in range(2500)] + [signal(value=-666)]

    response = send(api, rows)

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert not Signal.objects.exists()  # not the first 2,500 either
    # The same batch without the refused row goes through whole.
    assert send(api, rows[:-1]).json()["accepted"] == 2500


# --- concurrency (real connections, committed data) -------------------------------------


def _wait_until_blocked(count: int, timeout: float = 15) -> None:
    """Wait until ``count`` other sessions on this database are waiting for a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"{count} requests never came to wait on each other")


def _in_threads(*calls):
    """Run each call in its own thread (so on its own database connection); their results."""
    results: list = [None] * len(calls)
    errors: list = []

    def run(index, call):
        try:
            results[index] = call()
        except BaseException as error:  # reported in the test's thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    return threads, results, errors


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_with_the_same_ids_store_each_signal_once(book, metrics):
    _, raw = api_token_create(name="Product analytics", scopes=["signals:write"])
    rows = [signal(account=("acme", "cobalt")[i % 2], value=i, id=f"evt-{i}") for i in range(3000)]

    def post():
        response = send(client_with(raw), rows)
        assert response.status_code == 200, response.content
        return response.json()

    threads, results, errors = _in_threads(post, post)
    if connection.vendor == "postgresql":
        # Hold the first id in a transaction of our own, so that both requests are
        # certainly in flight together, each waiting to learn whether evt-0 is taken,
        # before either can commit; then let go.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO scoring_signal (account_id, metric_id, value, timestamp,"
                    " source, client_id, created_at) SELECT a.id, m.id, 0, now(), '', 'evt-0',"
                    " now() FROM accounts_account a, scoring_metric m"
                    " WHERE a.external_id = 'acme' AND m.key = 'logins'"
                )
            for thread in threads:
                thread.start()
            _wait_until_blocked(2)
            transaction.set_rollback(True)
    else:
        # SQLite lets one writer at a time in: the two requests take turns.
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert sum(r["accepted"] for r in results) == 3000
    assert sum(r["duplicates"] for r in results) == 3000
    assert Signal.objects.count() == 3000
    assert Signal.objects.values("client_id").distinct().count() == 3000


@pytest.mark.django_db(transaction=True)
def test_an_account_deleted_while_its_signals_are_stored_rejects_only_its_rows(book, metrics):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite admits one writer at a time, so no deletion can land between a "
            "batch's validation and its commit in a way a test can arrange."
        )
    _, raw = api_token_create(name="Support desk", scopes=["signals:write"])
    doomed = book["charlie"]

    def post():
        return send(client_with(raw), [signal("cobalt"), signal("acme")])

    threads, results, errors = _in_threads(post)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The account goes (uncommitted, holding its row): the request validates the
            # batch against what it can still see, and waits at commit to check it.
            cursor.execute("DELETE FROM accounts_account WHERE id = %s", [doomed.pk])
        threads[0].start()
        _wait_until_blocked(1)
    threads[0].join(timeout=60)

    assert not errors, errors
    response = results[0]
    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [{"index": 0, "errors": {"account": ["Unknown account 'cobalt'."]}}],
    }
    assert not Account.objects.filter(external_id="cobalt").exists()
    assert stored()[0][0] == "acme"
