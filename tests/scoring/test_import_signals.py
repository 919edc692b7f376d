"""import_signals: good rows kept, bad rows reported by line and field, duplicates by id."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from scoring.models import Signal
from tests.factories import AccountFactory
from tests.scoring.builders import make_metric


def run(path):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_signals", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def known(db):
    AccountFactory(external_id="acme")
    make_metric("logins", rollup="sum")
    make_metric("nps")


def test_good_rows_are_stored_and_bad_rows_reported_by_line(tmp_path, known):
    path = tmp_path / "signals.csv"
    path.write_text(
        "account,metric,value,timestamp,source,id\n"
        "acme,logins,12,2026-11-01T10:00:00Z,product,a1\n"  # line 2: good
        "nobody,logins,3,2026-11-01T10:00:00Z,product,\n"  # line 3: unknown account
        "acme,karma,3,2026-11-01T10:00:00Z,product,\n"  # line 4: unknown metric
        "acme,nps,lots,2026-11-01,survey,\n"  # line 5: not a number
        "acme,nps,9,yesterday,survey,\n"  # line 6: bad timestamp
        "acme,nps,9,2026-11-02,survey,a2\n"  # line 7: good (a date alone)
        "acme,logins,12,2026-11-01T10:00:00Z,product,a1\n"  # line 8: duplicate of line 2
    )
    out, err = run(path)
    assert "signals stored: 2, duplicates: 1, rows rejected: 4" in out
    assert "rejected line 3: account: Unknown account 'nobody'" in err
    assert "rejected line 4: metric: Unknown metric 'karma'" in err
    assert "rejected line 5: value: 'lots' is not a number" in err
    assert "rejected line 6: timestamp: 'yesterday' is not an ISO 8601 date-time" in err
    assert sorted(Signal.objects.values_list("client_id", flat=True)) == ["a1", "a2"]

    # Importing the same file again stores nothing new.
    out, _ = run(path)
    assert "signals stored: 0, duplicates: 3" in out
    assert Signal.objects.count() == 2


def test_a_file_without_the_required_columns_is_one_clear_error(tmp_path, known):
    path = tmp_path / "signals.csv"
    path.write_text("account,metric,when\nacme,logins,2026-11-01\n")
    with pytest.raises(CommandError, match="the header has no 'value' column"):
        run(path)


def test_a_missing_file_is_one_clear_error(tmp_path, known):
    with pytest.raises(CommandError) as error:
        run(tmp_path / "nope.csv")
    assert "nope.csv" in str(error.value)
    assert "Traceback" not in str(error.value)


def test_every_row_rejected_fails_the_command(tmp_path, known):
    path = tmp_path / "signals.csv"
    path.write_text("account,metric,value,timestamp\nghost,logins,1,2026-11-01\n")
    with pytest.raises(CommandError, match="every row was rejected"):
        run(path)


def test_a_utf16_file_is_read_and_its_rows_numbered_as_in_an_editor(tmp_path, known):
    path = tmp_path / "signals.csv"
    text = (
        "account\tmetric\tvalue\ttimestamp\r\n"
        "acme\tlogins\t12\t2026-11-01T10:00:00Z\r\n"
        "acmé\tlogins\t3\t2026-11-01T10:00:00Z\r\n"
    )
    path.write_bytes(text.encode("utf-16"))  # with its byte-order mark
    out, err = run(path)
    assert "signals stored: 1, duplicates: 0, rows rejected: 1" in out
    assert "rejected line 3: account: Unknown account 'acmé'" in err
