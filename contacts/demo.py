"""The demo's contacts: one to three people per demo account — a champion (the primary
contact), often a decision maker, sometimes a billing contact — and a champion who has
left on a few accounts, so the account pages and search have people to show."""

from __future__ import annotations

import datetime as dt

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from contacts.models import Contact, ContactRole
from contacts.services import contact_mark_left, contacts_upsert

FIRST = [
    "Dana",
    "Lee",
    "Pat",
    "Sam",
    "Alex",
    "Robin",
    "Noor",
    "Kai",
    "Maya",
    "Jonas",
    "Ines",
    "Tomás",
]
LAST = [
    "Reyes",
    "Okafor",
    "Lindqvist",
    "Keller",
    "Nguyen",
    "Moreau",
    "Sato",
    "Costa",
    "Novak",
    "Berg",
]
TITLES = {
    "champion": ["Head of Operations", "Customer Ops Lead", "Director of Support"],
    "decision_maker": ["VP Finance", "COO", "CTO"],
    "billing": ["Accounts Payable"],
}


@demo_step(name="contacts", order=8)
def demo_contacts_step(book: DemoBook) -> str:
    rng = book.rng("contacts")
    now = book.now
    roles = {role.key: role.key for role in ContactRole.objects.all()}
    Contact.objects.filter(account__external_id__startswith=DEMO_EXTERNAL_ID_PREFIX).delete()
    made = left = 0
    for account in book.accounts:
        domain = account.domain or f"{account.external_id}.example"
        wanted = ["champion"] + (["decision_maker"] if rng.random() < 0.6 else [])
        wanted += ["billing"] if rng.random() < 0.3 else []
        rows = []
        people = rng.sample([(f, last) for f in FIRST for last in LAST], len(wanted))
        for key, (first, last) in zip(wanted, people, strict=True):
            rows.append(
                {
                    "name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}@{domain}".replace("á", "a"),
                    "title": rng.choice(TITLES[key]),
                    "role": roles.get(key),
                    "is_primary": key == "champion",
                }
            )
        saved, created, _ = contacts_upsert(account=account, rows=rows, now=now)
        made += created
        if rng.random() < 0.05:
            contact_mark_left(
                contact=saved[0], on=book.today - dt.timedelta(days=rng.randint(3, 40)), now=now
            )
            left += 1
    return f"{made} contacts, {left} champions who have left"
