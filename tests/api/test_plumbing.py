"""What every API endpoint shares: scopes (403), throttling (429), the size limit (413)
and one JSON error shape, whatever goes wrong."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone

from accounts.models import Account
from accounts.tokens import SCOPES
from config.views import server_error
from playbooks.models import Playbook, Task
from scoring.models import HealthScore, Metric, ScoringModel, Signal
from scoring.services import scoring_model_new_version, scoring_run_create, scoring_run_execute
from tests.scoring.builders import add_signal, make_metric, make_model

SIGNAL = {"account": "acme", "metric": "logins", "value": 3, "timestamp": "2026-11-01"}
MODEL = {
    "key": "new",
    "name": "New",
    "components": [{"metric": "logins", "weight": 100, "rule": "passthrough"}],
    "bands": [{"name": "All", "lower": None}],
}

# Every operation with the scope it needs: (method, path, body, scope). "{draft}" is the
# id of a draft scoring model; "{task}" of an open task; "{playbook}" of a playbook.
OPERATIONS = [
    ("get", "/api/v1/accounts/", None, "accounts:read"),
    ("get", "/api/v1/accounts/acme/", None, "accounts:read"),
    ("put", "/api/v1/accounts/acme/", {"name": "Acme"}, "accounts:write"),
    ("patch", "/api/v1/accounts/acme/", {"plan": "Scale"}, "accounts:write"),
    ("delete", "/api/v1/accounts/acme/", None, "accounts:write"),
    ("post", "/api/v1/accounts/bulk/", {"accounts": []}, "accounts:write"),
    ("post", "/api/v1/signals/", {"signals": [SIGNAL]}, "signals:write"),
    ("get", "/api/v1/accounts/acme/score/", None, "scores:read"),
    ("get", "/api/v1/accounts/acme/scores/", None, "scores:read"),
    ("post", "/api/v1/accounts/acme/recompute/", None, "accounts:write"),
    ("get", "/api/v1/metrics/", None, "config:read"),
    ("post", "/api/v1/metrics/", {"key": "csat", "name": "CSAT"}, "config:write"),
    ("get", "/api/v1/metrics/logins/", None, "config:read"),
    ("patch", "/api/v1/metrics/logins/", {"unit": "logins"}, "config:write"),
    ("delete", "/api/v1/metrics/spare/", None, "config:write"),
    ("get", "/api/v1/scoring-models/", None, "config:read"),
    ("post", "/api/v1/scoring-models/", MODEL, "config:write"),
    ("get", "/api/v1/scoring-models/{draft}/", None, "config:read"),
    ("patch", "/api/v1/scoring-models/{draft}/", {"name": "Renamed"}, "config:write"),
    ("post", "/api/v1/scoring-models/{draft}/activate/", None, "config:write"),
    ("get", "/api/v1/tasks/", None, "tasks:read"),
    ("get", "/api/v1/tasks/{task}/", None, "tasks:read"),
    ("patch", "/api/v1/tasks/{task}/", {"status": "done"}, "tasks:write"),
    ("get", "/api/v1/playbooks/", None, "config:read"),
    ("get", "/api/v1/playbooks/{playbook}/", None, "config:read"),
    (
        "post",
        "/api/v1/playbooks/",
        {"name": "Onboard", "trigger": "account_created"},
        "config:write",
    ),
    ("patch", "/api/v1/playbooks/{playbook}/", {"cooldown_days": 7}, "config:write"),
]


def call(api, method: str, path: str, body):
    return getattr(api, method)(path, body, format="json") if body else getattr(api, method)(path)


@pytest.fixture
def world(book) -> dict:
    """The book, with a metric, an active model that has scored acme, a draft and a
    metric nothing uses."""
    make_metric("spare")
    active = make_model(
        "health",
        components=[{"metric": "logins", "rule": "passthrough", "weight": 100}],
        bands=[("Low", None), ("High", 50)],
    )
    add_signal(book["alice"], "logins", 60, timezone.now() - dt.timedelta(days=1))
    scoring_run_execute(run=scoring_run_create())
    task = Task.objects.create(account=book["alice"], title="Call", due_date=timezone.localdate())
    playbook = Playbook.objects.create(name="Welcome", trigger="account_created")
    return {
        "draft": scoring_model_new_version(model=active).pk,
        "task": task.pk,
        "playbook": playbook.pk,
    }


def snapshot() -> list:
    return [
        list(Account.objects.values_list("external_id", "name", "plan")),
        list(Signal.objects.values_list("id")),
        list(HealthScore.objects.values_list("id")),
        list(Metric.objects.values_list("key", "name", "unit")),
        list(ScoringModel.objects.values_list("id", "name", "status")),
        list(Task.objects.values_list("id", "status", "assignee")),
    ]


@pytest.mark.parametrize(("method", "path", "body", "scope"), OPERATIONS)
def test_an_operation_needs_its_scope_and_names_it_when_missing(
    world, api_as, method, path, body, scope
):
    path = path.format(**world)
    every_other_scope = [s for s in SCOPES if s != scope]
    before = snapshot()

    refused = call(api_as(*every_other_scope), method, path, body)

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "scope_missing"
    assert f"'{scope}'" in error["message"]
    assert snapshot() == before

    allowed = call(api_as(scope), method, path, body)
    assert allowed.status_code in {200, 201, 204}, allowed.content


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/metrics/logins/",
        "/api/v1/scoring-models/{draft}/",
        "/api/v1/playbooks/{playbook}/",
        "/api/v1/tasks/{task}/",
    ],
)
def test_put_where_only_patch_changes_is_a_clean_405(world, api_as, path):
    response = api_as().put(path.format(**world), {"name": "x"}, format="json")
    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'}
    }
    assert "PATCH" in response["Allow"]


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("method", "path"),
    sorted({(m, p) for m, p, body, _ in OPERATIONS if body is not None}),  # those that read JSON
)
@pytest.mark.parametrize("depth", [33, 5000])
def test_json_nested_too_deep_is_400_on_every_json_endpoint(world, api_as, method, path, depth):
    before = snapshot()
    response = api_as().generic(
        method.upper(), path.format(**world), nested(depth), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == {
        "code": "parse_error",
        "message": "The JSON nests deeper than 32 levels of arrays and objects.",
    }
    assert snapshot() == before


def test_json_at_the_depth_limit_is_read(db, api_as):
    attributes = json.loads(nested(31))  # 31 levels inside the account: 32 in all
    response = api_as().put(
        "/api/v1/accounts/deep/", {"name": "Deep", "attributes": attributes}, format="json"
    )
    assert response.status_code == 201
    assert Account.objects.get(external_id="deep").attributes == attributes


def test_a_method_the_endpoint_lacks_is_405_in_the_error_shape(db, api_as):
    response = api_as().post("/api/v1/accounts/acme/", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "POST" not allowed.'}
    }


def test_an_unknown_endpoint_is_a_json_404(client, db):
    response = client.get("/api/v1/nowhere/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "No such endpoint."}}


def test_a_crash_under_api_answers_json(db):
    request = RequestFactory().get("/api/v1/accounts/")
    response = server_error(request)
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "server_error"
    page = server_error(RequestFactory().get("/accounts/"))
    assert page["Content-Type"].startswith("text/html")


def test_malformed_json_is_400_saying_so(db, api_as):
    response = api_as().generic(
        "PUT", "/api/v1/accounts/acme/", '{"name": "Acme",', content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "JSON parse error" in error["message"]


def test_nan_is_not_a_number_json_allows(db, api_as):
    response = api_as().generic(
        "PUT",
        "/api/v1/accounts/acme/",
        '{"name": "A", "arr": NaN}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not Account.objects.exists()


def test_a_form_body_is_415(db, api_as):
    response = api_as().put(
        "/api/v1/accounts/acme/", "name=Acme", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2_000)
def test_a_body_over_the_size_limit_is_a_json_413(db, api_as):
    rows = [{"external_id": f"x-{i}", "name": "X" * 50} for i in range(40)]
    response = api_as().post("/api/v1/accounts/bulk/", {"accounts": rows}, format="json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error == {
        "code": "request_too_large",
        "message": "The request body is larger than the limit of 2,000 bytes.",
    }
    assert not Account.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2_000)
def test_a_body_within_the_size_limit_is_accepted(db, api_as):
    rows = [{"external_id": f"x-{i}", "name": "X"} for i in range(10)]
    response = api_as().post("/api/v1/accounts/bulk/", {"accounts": rows}, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 10


def test_the_default_limits(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 10 * 1024 * 1024
    assert settings.API_THROTTLE_RATE == "1000/min"


@override_settings(API_THROTTLE_RATE="3/min")
def test_a_token_over_its_rate_is_429_with_retry_after(db, api_as):
    busy = api_as("accounts:read")
    other = api_as("accounts:read")

    statuses = [busy.get("/api/v1/accounts/").status_code for _ in range(3)]
    throttled = busy.get("/api/v1/accounts/")

    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    error = throttled.json()["error"]
    assert error["code"] == "throttled"
    assert "seconds" in error["message"]
    # Counted per token: another integration is not slowed down by this one.
    assert other.get("/api/v1/accounts/").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/accounts/a%00b/", 404),
        ("delete", "/api/v1/accounts/a%00b/", 404),
        ("get", "/api/v1/accounts/a%00b/score/", 404),
        ("get", "/api/v1/accounts/a%00b/scores/", 404),
        ("post", "/api/v1/accounts/a%00b/recompute/", 404),
        ("put", "/api/v1/accounts/a%00b/", 400),
    ],
)
def test_a_nul_character_in_an_external_id_is_answered_not_crashed_on(
    db, api_as, method, path, status
):
    # PostgreSQL cannot even look up text with a NUL character: it must never reach it.
    response = call(api_as(), method, path, {"name": "X"} if method == "put" else None)
    assert response.status_code == status
    assert response.json()["error"]["code"] in {"not_found", "invalid"}


def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(db, api_as):
    response = api_as().get("/api/v1/accounts/", {"search": "a\x00b", "band": "\x00"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"search", "band"}
