"""The demo's contacts: one to three people per demo account — a champion (the primary
contact), often a decision maker, sometimes a billing contact — and a champion who has
left on a few accounts, so the account pages and search have people to show; and the
touches logged with them."""

from __future__ import annotations

import datetime as dt

from accounts.demo import DEMO_EXTERNAL_ID_PREFIX, DemoBook, demo_step
from accounts.models import Account
from contacts.models import Contact, ContactRole, Touch
from contacts.services import (
    contact_mark_left,
    contacts_upsert,
    touch_delete,
    touch_log,
    touch_metrics,
)
from scoring.demo import DemoAccount, demo_pattern

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


KINDS = [("call", 4), ("email", 3), ("meeting", 2), ("qbr", 1)]
NOTES = {
    "call": ["Checked in on the rollout.", "Talked through the open tickets.", "Quick sync."],
    "email": ["Sent the usage summary.", "Shared the release notes.", ""],
    "meeting": ["Training session for new users.", "Walked through the roadmap."],
    "qbr": ["Quarterly review: goals for next quarter agreed.", "QBR: renewal discussed."],
}
TOUCH_DAYS = 120


@demo_step(name="touches", order=9)
def demo_touches_step(book: DemoBook) -> str:
    """Touches over the last ``TOUCH_DAYS`` days, logged by each account's owner through
    the write path: calls, emails, meetings and QBRs with the account's contacts, every
    10–35 days (an account's own rhythm) while its demo pattern is not at its lowest, as
    the scoring demo's CSMs go quiet on accounts that fade; one in ten never touched.
    Their signals (source "vitals") are kept by the scoring step, which runs next."""
    rng = book.rng("touches")
    now = book.now
    touch_metrics()  # the scoring step's model reads one of them
    demo = Account.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX)
    for touch in Touch.objects.filter(account__in=demo):
        touch_delete(touch=touch)
    people: dict[int, list[int]] = {}
    for contact_id, account_id in Contact.objects.filter(
        account__in=demo, status=Contact.Status.ACTIVE
    ).values_list("id", "account_id"):
        people.setdefault(account_id, []).append(contact_id)
    kinds = [kind for kind, weight in KINDS for _ in range(weight)]
    logged = never = 0
    for account in book.accounts:
        if rng.random() < 0.1:
            never += 1
            continue
        pattern = demo_pattern(
            account=DemoAccount(account.id, account.external_id, account.churned_at),
            seed=book.seed,
            now=now,
        )
        churned_ago = (book.today - account.churned_at).days if account.churned_at else -1
        every = rng.randint(10, 35)
        offset = rng.randrange(every)
        for ago in range(TOUCH_DAYS, 0, -1):
            if ago <= churned_ago:
                break
            if (ago + offset) % every or pattern.health(ago) <= 0.25:
                continue
            kind = rng.choice(kinds)
            with_them = people.get(account.id, [])
            chosen = rng.sample(with_them, min(len(with_them), rng.randint(0, 2)))
            at = now - dt.timedelta(days=ago, hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
            touch_log(
                account=account,
                kind=kind,
                at=at,
                note=rng.choice(NOTES[kind]),
                contact_ids=chosen,
                by=account.owner,
                now=now,
            )
            logged += 1
    return f"{logged} touches, {never} accounts never touched"
