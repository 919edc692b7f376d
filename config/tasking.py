"""How every app hands work to Celery: one retry policy, one way to send tasks.

- ``RETRY``: the options of a task that is retried when the database was briefly
  unreachable (restarting, failing over, a connection killed): acknowledged late,
  retried with back-off whose countdowns stay far below the broker's visibility
  timeout. Tasks take it as ``@shared_task(**RETRY)`` (``retrying(...)`` to change one
  option). ``TRANSIENT`` is that list of errors, for code that must tell them apart.
- ``send_now`` / ``send_on_commit``: send tasks by name (the sender need not import the
  receiving app: scoring tells playbooks by name), many messages through one pooled
  producer, and — on commit — robustly: a broker that cannot be reached never undoes
  the commit; the periodic jobs pick the work up later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import InterfaceError, OperationalError, transaction

logger = logging.getLogger(__name__)

TRANSIENT: tuple[type[Exception], ...] = (OperationalError, InterfaceError)

RETRY: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "max_retries": 10,
}


def retrying(**overrides: Any) -> dict[str, Any]:
    """``RETRY`` with some options changed (e.g. more retries for a delivery)."""
    return {**RETRY, **overrides}


def each(ids: Iterable[Any]) -> list[tuple[Any]]:
    """One call per id: ``send_on_commit("app.tasks.run", each(ids))``."""
    return [(pk,) for pk in ids]


def send_now(name: str, calls: Iterable[Sequence[Any]] = ((),)) -> int:
    """Send the task ``name`` once per argument tuple in ``calls``, through one pooled
    producer (thousands of messages cost one connection, not one each). Returns how
    many were sent."""
    from config.celery import app

    calls = [tuple(args) for args in calls]
    if not calls:
        return 0
    with app.producer_or_acquire() as producer:
        for args in calls:
            app.send_task(name, args=args, producer=producer)
    return len(calls)


def send_on_commit(name: str, calls: Iterable[Sequence[Any]] = ((),)) -> None:
    """``send_now`` once the current transaction commits (at once outside one). If the
    broker cannot be reached, the commit stands and the error is logged: every task
    sent this way has a periodic job that finds its work undone and does it."""
    calls = [tuple(args) for args in calls]
    if not calls:
        return

    def send() -> None:
        try:
            send_now(name, calls)
        except Exception:
            logger.warning("could not send %s × %s; the periodic jobs will", name, len(calls))

    transaction.on_commit(send)
