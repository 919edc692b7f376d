"""A web process's PostgreSQL sessions plan without parallel workers unless
``VITALS_WEB_PARALLEL_WORKERS`` says otherwise (config/wsgi.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting"),
]


def parallel_workers() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_web_session_takes_the_setting(settings, workers):
    from config.wsgi import web_session

    settings.VITALS_WEB_PARALLEL_WORKERS = workers
    # In the test's transaction: rolled back with it.
    web_session(sender=type(connection), connection=connection)

    assert parallel_workers() == str(workers)


def test_the_web_process_applies_it_to_every_connection_it_opens():
    from config.wsgi import web_session

    # Connected once, under its uid: disconnecting it finds it (and it is put back).
    assert connection_created.disconnect(dispatch_uid="vitals-web-session")
    connection_created.connect(web_session, dispatch_uid="vitals-web-session")
