"""manage.py import_contacts: good, bad and duplicate rows, each reported by line; the
good ones saved through the one write path."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from contacts.models import Contact
from contacts.services import contact_save

pytestmark = pytest.mark.django_db


def run(tmp_path, text: str) -> tuple[str, str]:
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_contacts", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_good_bad_and_duplicate_rows(tmp_path, book):
    from django.utils import timezone

    contact_save(
        account=book["alice"],
        fields={"name": "Dana", "email": "dana@acme.example", "title": "VP", "is_primary": True},
        now=timezone.now(),
    )
    out, err = run(
        tmp_path,
        "Account,Name,Email,Role,Colour\n"
        "acme,Dana Reyes,DANA@acme.example,champion,red\n"  # line 2: an update
        "acme,Pat,pat@acme.example,billing,\n"  # 3: new
        "nowhere,Sam,sam@x.example,,\n"  # 4: no such account
        "acme,,nobody@acme.example,guru,\n"  # 5: no name, no such role
        "borealis,Lee,lee@borealis.example,,\n"  # 6: new on another account
        "acme,Pat Again,PAT@acme.example,,\n",  # 7: the same contact as line 3
    )
    assert (
        "rows read; contacts created: 2, updated: 1; rows rejected: 2, repeating a contact: 1."
        in out
    )
    assert "Ignored columns: Colour." in out
    assert "rejected line 4: account: No account with external id 'nowhere'." in err
    assert (
        "rejected line 5: name: Give the contact's name; role: 'guru' is not a contact role" in err
    )
    assert (
        "duplicate line 7: the contact pat@acme.example of account 'acme' is also on line 3; "
        "the later row was applied over it." in err
    )
    dana = Contact.objects.get(email="dana@acme.example")
    # The file has no title nor is_primary column: those stay as they were.
    assert (dana.name, dana.title, dana.role.key, dana.is_primary) == (
        "Dana Reyes",
        "VP",
        "champion",
        True,
    )
    assert Contact.objects.get(email="pat@acme.example").name == "Pat Again"  # the later row


def test_a_file_without_the_required_columns_or_all_rows_bad_fails(tmp_path, book):
    with pytest.raises(CommandError, match="has no email column"):
        run(tmp_path, "account,name\nacme,Dana\n")
    with pytest.raises(CommandError, match="Nothing imported: every row was rejected"):
        run(tmp_path, "account,name,email\nnowhere,Dana,dana@x.example\n")
    assert not Contact.objects.exists()


def test_each_row_costs_a_few_queries_whatever_the_file(tmp_path, book):
    """The roles and each account's contacts are read once; a row then costs the write
    path's own queries (the email check and the save)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(rows: int, offset: int) -> int:
        lines = "".join(
            f"acme,Person {n},p{n}@acme.example,user,no\n" for n in range(offset, offset + rows)
        )
        with CaptureQueriesContext(connection) as captured:
            run(tmp_path, "account,name,email,role,is_primary\n" + lines)
        return len(captured)

    few, many = queries(5, 0), queries(25, 100)
    # A row: the email check and the insert, in the write path's own savepoint (two more).
    assert (many - few) / 20 <= 4, (few, many)
    assert Contact.objects.count() == 30
