"""The account commands: ``import_accounts`` (a CRM export comes in) and ``seed_demo``.

The import stories follow Ada (CS ops) loading her CRM's export: good rows land,
each bad row is named by its line and field, nothing else is disturbed, and a file
that cannot be read at all is one clear sentence.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts import demo
from accounts.models import Account, Team, User
from accounts.selectors import manager_of
from accounts.services import accounts_validate
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,name,domain,owner,segment,plan,lifecycle_stage,arr,"
    "contract_start,renewal_date,churned_at,attributes"
)


def write_csv(tmp_path: Path, text: str, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_accounts(path: Path | str, *args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_accounts", str(path), *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


# --- import_accounts: good rows -------------------------------------------------------


def test_good_rows_become_accounts_with_every_field(tmp_path, alice, bob):
    path = write_csv(
        tmp_path,
        f"{HEADER},Industry\n"
        "acme,Acme Analytics,https://Acme.com/,alice,enterprise,Enterprise,mature,125000.50,"
        '2024-02-01,2027-02-01,,"{""tier"": 1}",Retail\n'
        "borealis,Borealis Bank,borealis.example,bob,Mid-market,Growth,Renewing,40000,"
        "2025-03-15,2026-03-15,,,\n",
    )

    stdout, stderr = import_accounts(path)

    assert "accounts created: 2, updated: 0; rows rejected: 0" in stdout
    assert "Kept in attributes: industry." in stdout
    assert stderr == ""
    acme = Account.objects.get(external_id="acme")
    assert acme.name == "Acme Analytics"
    assert acme.domain == "acme.com"
    assert acme.owner == alice
    assert acme.segment == Account.Segment.ENTERPRISE
    assert acme.plan == "Enterprise"
    assert acme.lifecycle_stage == Account.Stage.MATURE
    assert acme.arr == Decimal("125000.50")
    assert acme.contract_start == dt.date(2024, 2, 1)
    assert acme.renewal_date == dt.date(2027, 2, 1)
    assert acme.churned_at is None
    assert acme.attributes == {"tier": 1, "industry": "Retail"}
    borealis = Account.objects.get(external_id="borealis")
    # Labels are taken as well as values: a CRM export says "Mid-market".
    assert (borealis.segment, borealis.lifecycle_stage) == ("mid_market", "renewing")
    assert borealis.owner == bob
    assert borealis.attributes == {}


def test_the_account_lists_own_export_imports_as_it_is(tmp_path, book, ada, client_as):
    response = client_as(ada).get(reverse("accounts:export"))
    exported = b"".join(response.streaming_content).decode()
    assert exported.startswith("External id,Name,")
    before = {
        a.external_id: (a.name, a.owner_id, a.segment, a.arr, a.renewal_date)
        for a in Account.objects.all()
    }
    Account.objects.all().delete()

    stdout, _ = import_accounts(write_csv(tmp_path, exported))

    assert "accounts created: 3" in stdout
    after = {
        a.external_id: (a.name, a.owner_id, a.segment, a.arr, a.renewal_date)
        for a in Account.objects.all()
    }
    assert after == before


def test_semicolons_a_byte_order_mark_and_windows_line_ends_are_fine(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffexternal_id;name;arr\r\nx1;Café Crème;10\r\n".encode())

    stdout, _ = import_accounts(path)

    assert "accounts created: 1" in stdout
    assert Account.objects.get(external_id="x1").name == "Café Crème"


def test_an_import_costs_a_few_queries_per_batch_not_one_per_row(
    tmp_path, alice, bob, django_assert_max_num_queries
):
    rows = [
        f"ext-{n},Company {n},,{'alice' if n % 2 else 'bob'},smb,,,{n * 10},,,," for n in range(300)
    ]
    path = write_csv(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")

    # One batch: the owners, the existing ids, the upsert (which SQLite splits into
    # statements of ~70 rows), and a savepoint around them: not one query per row.
    with django_assert_max_num_queries(12):
        stdout, _ = import_accounts(path)

    assert "accounts created: 300" in stdout
    assert Account.objects.filter(owner=alice).count() == 150


def test_a_column_without_a_name_is_ignored_and_said_so(tmp_path):
    stdout, _ = import_accounts(write_csv(tmp_path, "external_id,name,\na,Acme,stray\n"))

    assert "Ignored columns without a name: 3." in stdout
    assert Account.objects.get(external_id="a").attributes == {}


# --- import_accounts: bad rows --------------------------------------------------------


def test_each_bad_row_is_reported_with_its_line_and_field_and_good_rows_are_kept(tmp_path, alice):
    path = write_csv(
        tmp_path,
        f"{HEADER}\n"
        "good-1,Good One,,alice,smb,,,100,,,,\n"  # line 2
        "no-name,,,,smb,,,100,,,,\n"  # line 3
        "bad-segment,Bad Segment,,,gold,,,100,,,,\n"  # line 4
        "negative,Negative,,,smb,,,-5,,,,\n"  # line 5
        "bad-date,Bad Date,,,smb,,,100,2025-02-30,,,\n"  # line 6
        "us-date,US Date,,,smb,,,100,,03/15/2026,,\n"  # line 7
        "ghost,Ghost Owner,,nobody,smb,,,100,,,,\n"  # line 8
        'bad-json,Bad JSON,,,smb,,,100,,,,"{oops"\n'  # line 9
        "list-json,List JSON,,,smb,,,100,,,,[1]\n"  # line 10
        "not-arr,Not ARR,,,smb,,,lots,,,,\n"  # line 11
        "good-2,Good Two,,,smb,,,200,,,,\n",  # line 12
    )

    stdout, stderr = import_accounts(path)

    assert "11 rows read; accounts created: 2, updated: 0; rows rejected: 9" in stdout
    assert set(Account.objects.values_list("external_id", flat=True)) == {"good-1", "good-2"}
    rejected = {
        int(line.split(":")[0].removeprefix("rejected line ")): line
        for line in stderr.splitlines()
        if line.startswith("rejected line ")
    }
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "name: This field is required" in rejected[3]
    assert "segment: 'gold' is not one of smb, mid_market, enterprise" in rejected[4]
    assert "arr: Must not be negative" in rejected[5]
    assert "contract_start: '2025-02-30' is not a valid date" in rejected[6]
    assert "renewal_date: '03/15/2026' is not a date as YYYY-MM-DD" in rejected[7]
    assert "owner: No user has the username 'nobody'" in rejected[8]
    assert "attributes: Not valid JSON" in rejected[9]
    assert "attributes: Must be a JSON object" in rejected[10]
    assert "arr: 'lots' is not a number" in rejected[11]


def test_a_row_handing_an_account_to_someone_who_has_left_is_rejected(tmp_path, alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    path = write_csv(tmp_path, "external_id,name,owner\nacme,Acme,alice\nborealis,Borealis,bob\n")

    stdout, stderr = import_accounts(path)

    assert "accounts created: 1, updated: 0; rows rejected: 1" in stdout
    assert stderr == (
        "rejected line 3: owner: The user 'bob' is inactive: accounts go to active users only.\n"
    )
    assert list(Account.objects.values_list("external_id", flat=True)) == ["acme"]


def test_one_row_with_several_problems_lists_them_all(tmp_path):
    path = write_csv(tmp_path, f"{HEADER}\nx,X,,,gold,,someday,-1,,,,\nok,OK,,,,,,,,,,\n")

    _, stderr = import_accounts(path)

    assert stderr.startswith("rejected line 2: segment: 'gold' is not one of")
    assert "; lifecycle_stage: 'someday' is not one of onboarding, adopting" in stderr
    assert "; arr: Must not be negative (got -1)." in stderr


def test_a_row_out_of_line_with_the_header_is_rejected(tmp_path):
    path = write_csv(
        tmp_path,
        "external_id,name,arr\n"
        "short,Short\n"  # line 2: a cell missing
        "long,Long,10,surprise\n"  # line 3: a cell too many
        "trailing,Trailing,10,,\n",  # line 4: empty trailing cells are a spreadsheet habit
    )

    _, stderr = import_accounts(path)

    assert "rejected line 2: row: Has 2 cells but the header has 3." in stderr
    assert "rejected line 3: row: Has 4 cells but the header has 3." in stderr
    assert list(Account.objects.values_list("external_id", flat=True)) == ["trailing"]


def test_line_numbers_are_lines_in_the_file_even_after_a_multi_line_cell(tmp_path):
    path = write_csv(
        tmp_path,
        'external_id,name,attributes\na,"Acme\nAnalytics",\nb,,\n',
    )

    _, stderr = import_accounts(path)

    assert "rejected line 4: name: This field is required." in stderr
    assert Account.objects.get(external_id="a").name == "Acme\nAnalytics"


def test_when_every_row_is_rejected_the_command_fails(tmp_path):
    path = write_csv(tmp_path, "external_id,name,segment\na,A,gold\nb,B,silver\n")
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="Nothing imported: every row was rejected"):
        call_command("import_accounts", str(path), stdout=io.StringIO(), stderr=stderr)

    assert "rejected line 2: segment" in stderr.getvalue()
    assert "rejected line 3: segment" in stderr.getvalue()


def test_a_file_with_only_a_header_imports_nothing_without_failing(tmp_path):
    stdout, _ = import_accounts(write_csv(tmp_path, "external_id,name\n"))

    assert "0 rows read" in stdout


# --- import_accounts: the same account twice ------------------------------------------


@pytest.mark.parametrize("batch_size", ["1000", "1"])
def test_a_repeated_external_id_is_reported_and_the_later_row_is_applied_over_it(
    tmp_path, batch_size
):
    path = write_csv(
        tmp_path,
        "external_id,name,arr,plan\n"
        "acme,Acme,1000,Growth\n"  # line 2
        "other,Other,5,\n"  # line 3
        "acme,Acme Corp,,Enterprise\n",  # line 4: renamed; arr left empty
    )

    stdout, stderr = import_accounts(path, "--batch-size", batch_size)

    assert "accounts created: 2, updated: 0" in stdout
    assert "repeating an external id: 1" in stdout
    assert "duplicate line 4: external_id 'acme' is also on line 2" in stderr
    acme = Account.objects.get(external_id="acme")
    # The same result whether both rows fall in one batch or not.
    assert (acme.name, acme.plan, acme.arr) == ("Acme Corp", "Enterprise", Decimal("1000"))


def test_re_importing_updates_accounts_by_external_id(tmp_path, alice, bob):
    write_csv(
        tmp_path,
        "external_id,name,owner,arr\nacme,Acme,alice,1000\nborealis,Borealis,bob,2000\n",
    )
    import_accounts(tmp_path / "accounts.csv")
    acme = Account.objects.get(external_id="acme")

    write_csv(
        tmp_path,
        "external_id,name,owner,arr\nacme,Acme Analytics,bob,1500\ncobalt,Cobalt,,300\n",
    )
    stdout, _ = import_accounts(tmp_path / "accounts.csv")

    assert "accounts created: 1, updated: 1" in stdout
    assert Account.objects.count() == 3
    acme.refresh_from_db()
    assert (acme.name, acme.owner, acme.arr) == ("Acme Analytics", bob, Decimal("1500"))
    assert Account.objects.get(external_id="borealis").arr == Decimal("2000")


def test_empty_cells_leave_segment_stage_and_arr_alone_and_clear_the_rest(tmp_path, alice):
    account = AccountFactory(
        external_id="acme",
        owner=alice,
        segment=Account.Segment.ENTERPRISE,
        lifecycle_stage=Account.Stage.RENEWING,
        arr=Decimal("90000"),
        plan="Enterprise",
        renewal_date=dt.date(2027, 1, 1),
    )
    path = write_csv(tmp_path, f"{HEADER}\nacme,Acme,,,,,,,,,,\n")

    import_accounts(path)

    account.refresh_from_db()
    assert account.segment == Account.Segment.ENTERPRISE
    assert account.lifecycle_stage == Account.Stage.RENEWING
    assert account.arr == Decimal("90000")
    assert (account.owner, account.plan, account.renewal_date) == (None, "", None)


def test_extra_columns_are_merged_into_the_stored_attributes(tmp_path):
    account = AccountFactory(external_id="acme", attributes={"crm_owner": "Zoe", "tier": "gold"})
    path = write_csv(tmp_path, "external_id,name,Tier,Support Plan\nacme,Acme,platinum,24x7\n")

    import_accounts(path)

    account.refresh_from_db()
    assert account.attributes == {"crm_owner": "Zoe", "tier": "platinum", "support_plan": "24x7"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_with_its_byte_order_mark_imports_as_utf8_would(tmp_path, encoding):
    # Spreadsheets save "Unicode text" as UTF-16 with a byte-order mark, often with tabs.
    text = "external_id\tname\tdomain\r\nacme\tAcmé Ünited\tacme.example\r\nb2\tBörse\t\r\n"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    path = _bytes(tmp_path, bom + text.encode(encoding))

    stdout, _ = import_accounts(path)

    assert "2 rows read; accounts created: 2" in stdout
    assert dict(Account.objects.values_list("external_id", "name")) == {
        "acme": "Acmé Ünited",
        "b2": "Börse",
    }


def test_rows_repeating_an_id_across_batches_are_reported_with_the_earlier_line(tmp_path):
    rows = "".join(f"ext-{n},Company {n}\n" for n in range(25))
    path = write_csv(tmp_path, f"external_id,name\n{rows}ext-3,Again\next-20,Again\next-3,Third\n")

    stdout, stderr = import_accounts(path, "--batch-size", "10")

    assert "28 rows read; accounts created: 25, updated: 0" in stdout
    assert "repeating an external id: 3" in stdout
    assert "duplicate line 27: external_id 'ext-3' is also on line 5" in stderr
    assert "duplicate line 28: external_id 'ext-20' is also on line 22" in stderr
    assert "duplicate line 29: external_id 'ext-3' is also on line 27" in stderr
    assert Account.objects.get(external_id="ext-3").name == "Third"


# --- import_accounts: files that cannot be imported -----------------------------------


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda tmp: tmp / "missing.csv", "missing.csv: no such file."),
        (lambda tmp: tmp, "is a directory, not a CSV file."),
        (
            lambda tmp: _bytes(tmp, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
            "looks like a binary file",
        ),
        (
            lambda tmp: _bytes(tmp, "external_id,name\nx,Café\n".encode("latin-1")),
            "line 2: not UTF-8",
        ),
        (lambda tmp: _bytes(tmp, b""), "is empty: expected a header row."),
        (lambda tmp: _bytes(tmp, b"\n  \n\n"), "is empty: expected a header row."),
        (
            lambda tmp: _bytes(tmp, b'{"accounts": [{"id": 1}]}\n'),
            "the header (line 1) has no external_id and no name column",
        ),
        (lambda tmp: _bytes(tmp, b"external_id,name,Name\n"), "columns 2 and 3 of the header"),
        (lambda tmp: _bytes(tmp, b'external_id,name\n"unterminated,x\n'), "not valid CSV"),
        (
            lambda tmp: _bytes(tmp, "external_id,name\nx,Café\n".encode("utf-16-le")),
            "looks like UTF-16 text without a byte-order mark; save the file as CSV UTF-8",
        ),
        (
            lambda tmp: _bytes(tmp, "external_id,name\nx,Café\n".encode("utf-32")),
            "is UTF-32 text, which is not read here; save the file as CSV UTF-8",
        ),
    ],
    ids=[
        "missing",
        "directory",
        "binary",
        "latin-1",
        "empty",
        "blank",
        "json",
        "twice",
        "csv",
        "utf-16 without a mark",
        "utf-32",
    ],
)
def test_a_file_that_cannot_be_imported_is_one_clear_error(tmp_path, make_file, message):
    path = make_file(tmp_path)

    with pytest.raises(CommandError) as raised:
        import_accounts(path)

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not Account.objects.exists()


def _bytes(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    return path


def test_a_bad_byte_late_in_the_file_stops_the_import_before_anything_is_written(tmp_path):
    good = "".join(f"ext-{n},Company {n}\n" for n in range(50))
    path = _bytes(tmp_path, b"external_id,name\n" + good.encode() + b"late,Caf\xe9\n")

    with pytest.raises(CommandError, match="line 52: not UTF-8"):
        import_accounts(path, "--batch-size", "10")

    assert not Account.objects.exists()


# --- seed_demo ------------------------------------------------------------------------


def seed_demo(*args: str) -> str:
    stdout = io.StringIO()
    call_command("seed_demo", *args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def demo_snapshot() -> list[tuple]:
    """The demo accounts as a list. The tests that compare books seed a week of history
    only: what they compare is the accounts."""
    return list(
        Account.objects.filter(external_id__startswith="demo-")
        .order_by("external_id")
        .values_list(
            "external_id", "name", "domain", "segment", "arr", "owner__username", "churned_at"
        )
    )


@pytest.mark.slow
def test_seed_demo_creates_the_people_of_the_spec_who_can_log_in():
    output = seed_demo("--accounts", "20", "--password", "open-sesame-42")

    users = {user.username: user for user in User.objects.all()}
    assert set(users) == {"admin", "manager", "csm1", "csm2", "csm3", "csm4"}
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert users["admin"].role == User.Role.ADMIN
    assert users["manager"].role == User.Role.MANAGER
    team = Team.objects.get(name="Customer Success")
    assert list(team.managers.all()) == [users["manager"]]
    assert {user.username for user in team.members.all()} == {"csm1", "csm2", "csm3", "csm4"}
    for username in ("csm1", "csm2", "csm3", "csm4"):
        assert users[username].role == User.Role.CSM
        assert not users[username].is_staff
        assert manager_of(user=users[username]) == users["manager"]
    request = RequestFactory().post("/login/")
    for username in users:
        assert authenticate(request, username=username, password="open-sesame-42") is not None
    assert authenticate(request, username="csm1", password="vitals-demo") is None
    assert "password 'open-sesame-42'" in output
    for login in ("admin", "manager", "csm1 … csm4"):
        assert login in output


@pytest.mark.slow
def test_seed_demo_builds_a_believable_book_of_the_size_asked():
    output = seed_demo("--accounts", "300")
    today = timezone.localdate()

    accounts = list(Account.objects.select_related("owner"))
    assert len(accounts) == 300
    assert "Demo accounts: 300 (300 created, 0 updated" in output
    by_segment = {segment: [] for segment in Account.Segment.values}
    for account in accounts:
        by_segment[account.segment].append(account.arr)
    assert min(by_segment["smb"]) >= 3_000 and max(by_segment["smb"]) <= 25_000
    assert min(by_segment["mid_market"]) >= 25_000 and max(by_segment["mid_market"]) <= 150_000
    assert min(by_segment["enterprise"]) >= 150_000
    assert len(by_segment["smb"]) > len(by_segment["mid_market"]) > len(by_segment["enterprise"])

    churned = [a for a in accounts if a.churned_at is not None]
    assert 0.08 <= len(churned) / len(accounts) <= 0.12
    assert all(a.lifecycle_stage == Account.Stage.CHURNED for a in churned)
    assert all(today - dt.timedelta(days=183) <= a.churned_at < today for a in churned)
    active = [a for a in accounts if a.churned_at is None]
    assert all(a.lifecycle_stage != Account.Stage.CHURNED for a in active)
    assert all(a.contract_start < today for a in accounts)
    renewals = [a.renewal_date for a in active]
    assert all(
        today - dt.timedelta(days=31) <= day <= today + dt.timedelta(days=366) for day in renewals
    )
    assert any(day < today for day in renewals)
    assert any(day > today + dt.timedelta(days=300) for day in renewals)
    assert {a.lifecycle_stage for a in active} == set(Account.Stage.values) - {"churned"}

    owners = {a.owner.username if a.owner else None for a in accounts}
    assert owners == {"csm1", "csm2", "csm3", "csm4", None}
    assert len({a.name for a in accounts}) == 300
    assert all(a.domain and " " not in a.domain for a in accounts)


@pytest.mark.slow
def test_the_demo_rows_pass_the_same_validation_as_an_import():
    seed_demo("--accounts", "100", "--days", "7")  # the accounts are what is checked

    rows = [
        {
            "external_id": a.external_id,
            "name": a.name,
            "domain": a.domain,
            "owner": a.owner.username if a.owner else "",
            "segment": a.segment,
            "plan": a.plan,
            "lifecycle_stage": a.lifecycle_stage,
            "arr": str(a.arr),
            "contract_start": a.contract_start.isoformat(),
            "renewal_date": a.renewal_date.isoformat(),
            "churned_at": a.churned_at.isoformat() if a.churned_at else "",
            "attributes": a.attributes,
        }
        for a in Account.objects.select_related("owner")
    ]
    assert [v.errors for v in accounts_validate(rows=rows) if not v.ok] == []


@pytest.mark.slow
def test_the_same_seed_gives_the_same_book_and_another_seed_another():
    seed_demo("--accounts", "40", "--seed", "7", "--days", "7")
    first = demo_snapshot()

    seed_demo("--accounts", "40", "--seed", "7", "--days", "7", "--reset")
    assert demo_snapshot() == first

    seed_demo("--accounts", "40", "--seed", "8", "--days", "7", "--reset")
    second = demo_snapshot()
    assert [row[1] for row in second] != [row[1] for row in first]
    assert [row[4] for row in second] != [row[4] for row in first]


@pytest.mark.slow
def test_seeding_twice_adds_nothing():
    seed_demo("--accounts", "50", "--days", "7")
    snapshot = demo_snapshot()
    counts = (User.objects.count(), Team.objects.count(), Account.objects.count())

    output = seed_demo("--accounts", "50", "--days", "7")

    assert "Demo accounts: 50 (0 created, 50 updated" in output
    assert (User.objects.count(), Team.objects.count(), Account.objects.count()) == counts
    assert Team.objects.get(name="Customer Success").members.count() == 4
    assert demo_snapshot() == snapshot


@pytest.mark.slow
def test_reset_starts_the_demo_accounts_over_and_leaves_real_accounts_alone():
    seed_demo("--accounts", "30", "--days", "7")
    real = AccountFactory(external_id="crm-1", name="A Real Customer")
    Account.objects.filter(external_id="demo-00001").update(name="Edited by hand")

    seed_demo("--accounts", "10", "--days", "7", "--reset")

    demo_ids = list(
        Account.objects.filter(external_id__startswith="demo-").values_list(
            "external_id", flat=True
        )
    )
    assert len(demo_ids) == 10
    assert Account.objects.get(external_id="demo-00001").name != "Edited by hand"
    assert Account.objects.filter(pk=real.pk).exists()


def test_steps_registered_by_other_apps_run_after_the_accounts(monkeypatch):
    # Discover the apps' steps before copying the registry: discovered into the copy, they
    # would vanish with it, and every later seeding in this process would skip them.
    demo.demo_steps()
    monkeypatch.setattr(demo, "_steps", dict(demo._steps))
    seen: dict[str, object] = {}

    @demo.demo_step(name="signals", order=10, reset=lambda: seen.setdefault("reset", True))
    def signals(book: demo.DemoBook) -> str:
        seen["accounts"] = len(book.accounts)
        seen["days"] = book.days
        return f"Signals: {book.days} days for {len(book.accounts)} accounts."

    output = seed_demo("--accounts", "12", "--days", "30", "--reset")

    assert seen == {"reset": True, "accounts": 12, "days": 30}
    assert "Signals: 30 days for 12 accounts." in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accounts", "-1"], "--accounts cannot be negative."),
        (["--days", "0"], "--days must be at least 1."),
        (["--password", ""], "--password cannot be empty."),
    ],
)
def test_seed_demo_refuses_impossible_options(args, message):
    with pytest.raises(CommandError, match=message):
        seed_demo(*args)
