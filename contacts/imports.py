"""Importing contacts from a CSV file: each row is one contact of the account its
``account`` column names by external id, matched by email within that account (updated
if it exists, created otherwise) through the one write path (``contact_save``). A bad
row is reported with its line and kept out; the good rows are saved, each on its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from accounts.imports import CsvFile, CsvFileError, Rejection
from accounts.imports.accounts import column_key
from accounts.models import Account
from contacts.models import Contact, ContactRole
from contacts.services import CONTACT_FIELDS, ContactInvalid, contact_save

COLUMNS = ("account", *CONTACT_FIELDS)
REQUIRED = ("account", "name", "email")
TRUE = {"1", "true", "yes", "y", "x", "primary"}
FALSE = {"", "0", "false", "no", "n"}


@dataclass(frozen=True)
class Duplicate:
    line: int
    account: str
    email: str
    first_line: int

    def __str__(self) -> str:
        return (
            f"line {self.line}: the contact {self.email} of account '{self.account}' is also "
            f"on line {self.first_line}; the later row was applied over it."
        )


@dataclass
class ContactImport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def _columns(csv_file: CsvFile) -> tuple[dict[str, int], list[str]]:
    found: dict[str, int] = {}
    ignored = []
    for index, title in enumerate(csv_file.header):
        name = column_key(title)
        if name in COLUMNS:
            if name in found:
                raise CsvFileError(
                    f"{csv_file.path}: columns {found[name] + 1} and {index + 1} of the header "
                    f"are both '{name}'."
                )
            found[name] = index
        elif name:
            ignored.append(title.strip())
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise CsvFileError(
            f"{csv_file.path}: the header (line {csv_file.header_line}) has no "
            f"{' and no '.join(missing)} column. The first row must name the columns: "
            f"{', '.join(COLUMNS)} (account is the account's external id)."
        )
    return found, ignored


def contacts_import_csv(
    *, csv_file: CsvFile, on_progress: Callable[[int], Any] | None = None
) -> ContactImport:
    """Import the contacts of ``csv_file`` (checked by ``csv_file_open``)."""
    columns, ignored = _columns(csv_file)
    report = ContactImport(ignored_columns=ignored)
    # Read once: the roles, and each account with its contacts (by email) when first named.
    roles = {role.key: role for role in ContactRole.objects.all()}
    accounts: dict[str, Account | None] = {}
    contacts: dict[int, dict[str, Contact]] = {}
    seen: dict[tuple[int, str], int] = {}
    for line, cells in csv_file.rows():
        report.rows += 1
        if on_progress is not None:
            on_progress(1)
        value = {name: (cells[i].strip() if i < len(cells) else "") for name, i in columns.items()}
        external_id = value.pop("account")
        if external_id not in accounts:
            found = Account.objects.filter(external_id=external_id).first()
            accounts[external_id] = found
            if found is not None:
                contacts[found.pk] = {
                    c.email.lower(): c for c in Contact.objects.filter(account=found)
                }
        account = accounts[external_id]
        if account is None:
            report.rejected.append(
                Rejection(line, {"account": [f"No account with external id '{external_id}'."]})
            )
            continue
        primary = value.get("is_primary", "").lower()
        if primary not in TRUE | FALSE:
            report.rejected.append(
                Rejection(line, {"is_primary": [f"'{value['is_primary']}' is not yes or no."]})
            )
            continue
        # A column the file does not have leaves the stored value alone.
        fields: dict[str, Any] = dict(value)
        if "is_primary" in columns:
            fields["is_primary"] = primary in TRUE
        if fields.get("role") in roles:  # an unknown key goes on, for the service to name
            fields["role"] = roles[fields["role"]]
        email = value.get("email", "").lower()
        existing = contacts[account.pk].get(email)
        try:
            saved = contact_save(
                account=account, fields=fields, contact=existing, now=timezone.now()
            )
        except ContactInvalid as exc:
            report.rejected.append(Rejection(line, dict(exc.fields or {})))
            continue
        contacts[account.pk][email] = saved
        if saved.is_primary:  # the others of the account lost the primary place
            for other in contacts[account.pk].values():
                other.is_primary = other.pk == saved.pk
        key = (account.pk, email)
        if key in seen:
            report.duplicates.append(Duplicate(line, external_id, email, seen[key]))
        else:
            seen[key] = line
            if existing is None:
                report.created += 1
            else:
                report.updated += 1
    return report
