"""Search everywhere: the navigation's one box. It finds, within the person's scope,
accounts (name or domain containing the text, or the exact external id: the account
list's own search), contacts (name or email), tasks (title) and notes (text), each
group newest or best first and a few long, in one query per group.

On PostgreSQL each group is served by trigram indexes (``UPPER(col) LIKE
UPPER('%text%')``: accounts/migrations/0003, contacts/migrations/0003,
playbooks/migrations/0009); SQLite, the
embedded default for small books, scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from accounts.filters import AccountRules
from accounts.models import Account, User
from accounts.selectors import accounts_visible_to
from contacts.models import Contact
from playbooks.models import Note, Task
from playbooks.selectors import tasks_visible_to

SHOWN = 6
# Fewer characters find too much to be of use, and no trigram can serve them.
MIN_LENGTH = 2
MAX_LENGTH = 100


@dataclass
class SearchResults:
    text: str
    accounts: list[Account] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    more: dict[str, bool] = field(default_factory=dict)  # a group has more than shown

    @property
    def empty(self) -> bool:
        return not (self.accounts or self.contacts or self.tasks or self.notes)

    @property
    def too_short(self) -> bool:
        return len(self.text) < MIN_LENGTH


def _first(queryset, key: str, results: SearchResults, shown: int) -> list:
    found = list(queryset[: shown + 1])
    results.more[key] = len(found) > shown
    return found[:shown]


def search_everywhere(*, user: User, text: str, shown: int = SHOWN) -> SearchResults:
    """What ``text`` finds among ``user``'s accounts, contacts, tasks and notes: four
    queries (none for a text shorter than ``MIN_LENGTH``)."""
    text = " ".join(text.split())[:MAX_LENGTH]
    results = SearchResults(text=text)
    if results.too_short:
        return results
    accounts = AccountRules().filter_search(accounts_visible_to(user=user), "q", text)
    results.accounts = _first(
        accounts.select_related("owner", "health__band").order_by("name", "pk"),
        "accounts",
        results,
        shown,
    )
    contacts = Contact.objects.filter(
        account__in=accounts_visible_to(user=user).values("pk")
    ).filter(Q(name__icontains=text) | Q(email__icontains=text))
    results.contacts = _first(
        contacts.select_related("account", "role").order_by("name", "pk"),
        "contacts",
        results,
        shown,
    )
    tasks = tasks_visible_to(user=user).filter(title__icontains=text)
    results.tasks = _first(
        tasks.select_related("account", "assignee").order_by("-created_at", "-pk"),
        "tasks",
        results,
        shown,
    )
    notes = Note.objects.filter(
        account__in=accounts_visible_to(user=user).values("pk"), body__icontains=text
    )
    results.notes = _first(
        notes.select_related("account", "author").order_by("-created_at", "-pk"),
        "notes",
        results,
        shown,
    )
    return results
