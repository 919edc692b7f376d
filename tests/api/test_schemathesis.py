"""Schema fuzzing: Schemathesis generates requests for every operation in /api/schema/ —
valid ones and deliberately invalid ones — and sends them, with a token holding every
scope, to the real application. No answer may be a server error, and every answer must
be one the schema documents (status code, content type and body).

Path parameters are pointed at real objects half of the time (an account, a metric, a
draft scoring model), so the operations are exercised on data as well as on 404s.
"""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import negative_data_rejection, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import SCOPES, api_token_create
from config.wsgi import application
from playbooks.models import Task
from scoring.services import scoring_model_new_version, scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.playbooks.builders import make_playbook
from tests.scoring.builders import add_signal, make_metric, make_model

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db, settings):
    # Fuzzing sends many requests at once: keep the throttle out of the way.
    settings.API_THROTTLE_RATE = "1000000/min"
    # Requests run inside the test's transaction; Django must not close its connection
    # between them (the test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
        yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(db) -> dict[str, str]:
    """An account with a score and a task, metrics, an active model and a draft."""
    account = AccountFactory(external_id="acme")
    make_metric("nps")
    make_metric("spare")
    active = make_model(
        "health",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 100,
            }
        ],
        bands=[("At-risk", None), ("Healthy", 50)],
    )
    add_signal(account, "logins", 12, timezone.now() - dt.timedelta(days=1))
    scoring_run_execute(run=scoring_run_create())
    draft = scoring_model_new_version(model=active)
    task = Task.objects.create(account=account, title="Call", due_date=timezone.localdate())
    playbook = make_playbook("Became At-risk")
    _, raw = api_token_create(name="Fuzzer", scopes=SCOPES)
    return {
        "token": raw,
        "external_id": "acme",
        "key": "logins",
        "id": str(draft.pk),
        # Where "id" names another kind of object.
        "/api/v1/tasks/{id}/": {"id": str(task.pk)},
        "/api/v1/playbooks/{id}/": {"id": str(playbook.pk)},
    }


MAX_EXAMPLES = 25  # per operation and mode
SHARES = 4  # the quick run in this many tests, which the test processes share


def fuzz(
    schema,
    world: dict,
    *,
    max_examples: int,
    checks,
    batches: frozenset[str] = frozenset(),
    share: tuple[int, int] = (0, 1),
) -> tuple[int, list[str]]:
    """Every operation, valid and invalid requests, ``max_examples`` of each; returns the
    number of requests sent and the failures found. For the ``batches`` paths, a batch
    with bad rows is answered 200 with the rows rejected one by one (their documented
    contract), not refused whole: there, rejecting invalid data is not checked.
    ``share`` (i, n) takes every n-th operation from the i-th, so that n tests together
    cover them all and can run side by side."""
    failures: list[str] = []
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    first, step = share
    for operation in operations[first::step]:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            def exercise(case):
                nonlocal sent
                # What the case makes invalid on purpose stays as generated.
                invalid = {
                    location
                    for location, info in (case.meta.components if case.meta else {}).items()
                    if not info.mode.is_positive
                }
                real = {**world, **world.get(case.operation.path, {})}
                for name in case.path_parameters or {}:
                    # Half of the valid values are replaced by a real object's (by the
                    # value's length, so that the choice is reproducible).
                    if (
                        ParameterLocation.PATH not in invalid
                        and name in real
                        and len(str(case.path_parameters[name])) % 2 == 0
                    ):
                        case.path_parameters[name] = real[name]
                token = {"Authorization": f"Bearer {world['token']}"}
                sent += 1
                case.call_and_validate(
                    headers={} if ParameterLocation.HEADER in invalid else token,
                    checks=checks,
                    excluded_checks=[negative_data_rejection]
                    if case.operation.path in batches
                    else None,
                )

            try:
                # Each operation starts from the same world: what the last one deleted
                # or changed is rolled back.
                with transaction.atomic():
                    exercise()
                    transaction.set_rollback(True)
            except (Exception, BaseExceptionGroup) as error:  # report all, not the first
                failures.append(f"{operation.label} ({mode}): {error}")
    return sent, failures


@pytest.mark.slow
@pytest.mark.parametrize("share", range(SHARES))
def test_every_operation_answers_within_its_schema(api_schema, world, share):
    sent, failures = fuzz(
        api_schema, world, max_examples=MAX_EXAMPLES, checks=CHECKS, share=(share, SHARES)
    )
    assert sent > 0
    assert not failures, "\n\n".join(failures)


@pytest.mark.fuzz
def test_every_check_on_every_operation_over_thousands_of_cases(api_schema, world):
    """The long run (``pytest -m fuzz``; CI keeps the quick one above): every check
    Schemathesis has, its defaults but one — a 400 is a right answer to a request the
    schema allows when it breaks a rule no schema expresses (weights summing to 100 %, a
    band that exists, an account outside the token's reach is a 404 like any other)."""
    checks = api_schema.config.checks
    checks.positive_data_acceptance.expected_statuses = [
        *checks.positive_data_acceptance.expected_statuses,
        "400",
    ]
    batches = frozenset({"/api/v1/accounts/bulk/", "/api/v1/signals/"})
    sent, failures = fuzz(
        api_schema, world, max_examples=LONG_EXAMPLES, checks=None, batches=batches
    )
    print(f"{sent} requests, every check, {len(failures)} failures")
    assert sent >= 2000, sent
    assert not failures, "\n\n".join(failures)


LONG_EXAMPLES = 60
