"""Personas shared by every test.

No test reaches beyond this machine's loopback: tests/netguard/sitecustomize.py.

Two teams. Alice and Bob are CSMs on the Enterprise team, managed by Maggie;
Charlie is a CSM on the SMB team, managed by Mark. Ada is CS ops (admin). Each CSM
owns one account, so "own", "team" and "other" are always one account away.
"""

from __future__ import annotations

import pytest
from django.test import Client

import tests.netguard.sitecustomize as netguard  # noqa: F401 (installs the guard)
from accounts.models import Account, User
from tests.factories import AccountFactory, TeamFactory, UserFactory

PASSWORD = "pw-for-tests-1"

# What makes a test slow, beside an explicit ``@pytest.mark.slow``: a real worker, a
# browser or a server in another process, or a database emptied after each test.
SLOW_FIXTURES = {"celery_worker_process", "live_server", "transactional_db", "gunicorn"}


def pytest_collection_modifyitems(config, items):
    """Mark slow tests, so that ``bin/quick`` (``-m "not slow"``) is the fast loop:
    every property test (hypothesis), every e2e test and every test that uses one of
    ``SLOW_FIXTURES``."""
    for item in items:
        function = getattr(item, "function", None)
        if (
            SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or getattr(function, "is_hypothesis_test", False)
            or item.get_closest_marker("e2e")
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def alice(db) -> User:
    return UserFactory(username="alice", first_name="Alice", role=User.Role.CSM)


@pytest.fixture
def bob(db) -> User:
    return UserFactory(username="bob", first_name="Bob", role=User.Role.CSM)


@pytest.fixture
def charlie(db) -> User:
    return UserFactory(username="charlie", first_name="Charlie", role=User.Role.CSM)


@pytest.fixture
def maggie(db, alice, bob) -> User:
    manager = UserFactory(username="maggie", first_name="Maggie", role=User.Role.MANAGER)
    team = TeamFactory(name="Enterprise")
    team.members.add(alice, bob)
    team.managers.add(manager)
    return manager


@pytest.fixture
def mark(db, charlie) -> User:
    manager = UserFactory(username="mark", first_name="Mark", role=User.Role.MANAGER)
    team = TeamFactory(name="SMB")
    team.members.add(charlie)
    team.managers.add(manager)
    return manager


@pytest.fixture
def ada(db) -> User:
    return UserFactory(username="ada", first_name="Ada", role=User.Role.ADMIN, is_staff=True)


@pytest.fixture
def book(alice, bob, charlie, maggie, mark) -> dict[str, Account]:
    """One account per CSM: Alice's, Bob's (Alice's team-mate) and Charlie's (other team)."""
    return {
        "alice": AccountFactory(name="Acme Analytics", external_id="acme", owner=alice),
        "bob": AccountFactory(name="Borealis Bank", external_id="borealis", owner=bob),
        "charlie": AccountFactory(name="Cobalt Cafe", external_id="cobalt", owner=charlie),
    }


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_as():
    return client_for


@pytest.fixture
def celery_worker_process(transactional_db, settings, tmp_path):
    """Start real Celery workers on the test database and broker; yields a controller.

    The tests that depend on Celery's behaviour (acknowledgement, re-delivery after a
    killed worker) use this rather than eager mode, which would hide exactly those bugs.
    """
    from tests.workers import WorkerController

    controller = WorkerController(tmp_path)
    yield controller
    controller.stop_all()
