"""Configuration over the API: CS ops keep metrics and scoring models in a repository
and apply them with a script, as they would in admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.services import TOUCH_METRICS
from scoring.models import Metric, ScoringComponent, ScoringModel
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_metric, make_model

METRICS = "/api/v1/metrics/"
MODELS = "/api/v1/scoring-models/"


@pytest.fixture(autouse=True)
def no_built_in_metrics(db):
    """These stories count every metric there is: they start without the built-in touch
    metrics a migration creates."""
    Metric.objects.filter(key__in=TOUCH_METRICS).delete()


def metric_url(key: str) -> str:
    return f"/api/v1/metrics/{key}/"


def model_url(pk: int) -> str:
    return f"/api/v1/scoring-models/{pk}/"


def activate_url(pk: int) -> str:
    return f"/api/v1/scoring-models/{pk}/activate/"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


# --- metrics -------------------------------------------------------------------------------


def test_metrics_are_listed_by_key_and_created(db, api_as):
    make_metric("nps", name="NPS")
    api = api_as("config:read", "config:write")

    created = api.post(
        METRICS,
        {
            "key": "open_tickets",
            "name": "Open tickets",
            "unit": "tickets",
            "rollup": "max",
            "window_days": 7,
        },
        format="json",
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("key", "name", "unit", "rollup", "window_days")} == {
        "key": "open_tickets",
        "name": "Open tickets",
        "unit": "tickets",
        "rollup": "max",
        "window_days": 7,
    }
    listed = api.get(METRICS).json()
    assert [m["key"] for m in listed["results"]] == ["nps", "open_tickets"]
    assert api.get(metric_url("open_tickets")).json() == body


@pytest.mark.parametrize(
    ("payload", "field", "says"),
    [
        ({"name": "X"}, "key", "required"),
        ({"key": "open tickets", "name": "X"}, "key", "letters, numbers, underscores or hyphens"),
        ({"key": "nps", "name": "X"}, "key", "already exists"),
        ({"key": "k"}, "name", "required"),
        ({"key": "k", "name": "X", "rollup": "median"}, "rollup", "not a valid choice"),
        ({"key": "k", "name": "X", "window_days": 0}, "window_days", "greater than or equal to 1"),
        (
            {"key": "k", "name": "X", "window_days": 3651},
            "window_days",
            "less than or equal to 3650",
        ),
    ],
)
def test_a_bad_metric_is_400_naming_the_field(db, api_as, payload, field, says):
    make_metric("nps")
    response = api_as("config:write").post(METRICS, payload, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert list(error["fields"]) == [field]
    assert says in error["fields"][field][0]
    assert Metric.objects.count() == 1


def test_a_metric_changes_but_keeps_its_key(db, api_as):
    make_metric("logins", rollup="sum", window_days=30)
    api = api_as("config:read", "config:write")

    changed = api.patch(metric_url("logins"), {"window_days": 14, "unit": "logins"}, format="json")
    renamed = api.patch(metric_url("logins"), {"key": "sessions"}, format="json")
    same_key = api.patch(metric_url("logins"), {"key": "logins", "name": "Log-ins"}, format="json")

    assert changed.status_code == 200
    assert (changed.json()["window_days"], changed.json()["unit"]) == (14, "logins")
    assert renamed.status_code == 400
    assert "cannot be renamed" in error_of(renamed)["fields"]["key"][0]
    assert same_key.status_code == 200
    assert Metric.objects.get().name == "Log-ins"
    assert api.patch(metric_url("nope"), {"name": "X"}, format="json").status_code == 404


def test_a_metric_in_use_is_not_deleted_and_the_answer_says_what_uses_it(db, api_as):
    make_model(
        "usage",
        components=[{"metric": "logins", "rule": "passthrough", "weight": 100}],
        bands=[("Low", None), ("High", 50)],
    )
    make_metric("nps")
    add_signal(AccountFactory(), "nps", 9, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    make_metric("spare")
    api = api_as("config:write")

    used = api.delete(metric_url("logins"))
    with_signals = api.delete(metric_url("nps"))
    spare = api.delete(metric_url("spare"))

    assert used.status_code == 409
    assert error_of(used) == {
        "code": "in_use",
        "message": "Metric 'logins' is used by the scoring model(s) Usage v1; remove it from "
        "their components first (a new version for active ones).",
    }
    assert with_signals.status_code == 409
    assert "has 1 signal(s)" in error_of(with_signals)["message"]
    assert spare.status_code == 204
    assert sorted(Metric.objects.values_list("key", flat=True)) == ["logins", "nps"]


# --- scoring models ------------------------------------------------------------------------


@pytest.fixture
def metrics(db):
    for key in ("logins", "nps", "csat", "open_tickets"):
        make_metric(key)


def weighted(**overrides) -> dict:
    model = {
        "key": "default",
        "name": "Default health",
        "kind": "weighted",
        "components": [
            {
                "metric": "logins",
                "weight": 60,
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
            },
            {
                "metric": "nps",
                "weight": 40,
                "rule": "steps",
                "params": {"steps": [[-100, 0], [0, 50], [30, 100]]},
                "missing": "default",
                "default_value": 0,
            },
        ],
        "bands": [
            {"name": "At-risk", "lower": None, "color": "#dc2626", "is_at_risk": True},
            {"name": "Neutral", "lower": 50, "color": "#ca8a04"},
            {"name": "Healthy", "lower": 75, "color": "#16a34a"},
        ],
    }
    model.update(overrides)
    return model


def test_a_model_is_created_as_a_draft_with_its_components_and_bands(metrics, api_as):
    api = api_as("config:read", "config:write")

    response = api.post(MODELS, weighted(segment="enterprise"), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["key"], body["version"], body["status"], body["segment"]) == (
        "default",
        1,
        "draft",
        "enterprise",
    )
    assert body["components"] == [
        {
            "metric": "logins",
            "label": "",
            "weight": 60.0,
            "rule": "linear",
            "params": {"worst": 0, "best": 20},
            "missing": "skip",
            "default_value": None,
            "rollup": "latest",
            "window_days": 30,
        },
        {
            "metric": "nps",
            "label": "",
            "weight": 40.0,
            "rule": "steps",
            "params": {"steps": [[-100, 0], [0, 50], [30, 100]]},
            "missing": "default",
            "default_value": 0.0,
            "rollup": "latest",
            "window_days": 30,
        },
    ]
    assert [b["name"] for b in body["bands"]] == ["At-risk", "Neutral", "Healthy"]
    assert body["bands"][0] == {
        "name": "At-risk",
        "lower": None,
        "color": "#dc2626",
        "level": "at_risk",
        "is_at_risk": True,
    }
    assert api.get(model_url(body["id"])).json() == body


def test_a_points_model_takes_points_rules(metrics, api_as):
    response = api_as("config:write").post(
        MODELS,
        {
            "key": "impact",
            "name": "Impact points",
            "kind": "points",
            "components": [
                {"metric": "open_tickets", "rule": "per_unit", "params": {"points": -5}},
                {"metric": "csat", "rule": "table", "params": {"table": {"5": 10, "1": -10}}},
            ],
            "bands": [{"name": "Critical", "lower": None}, {"name": "Fine", "lower": 0}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "points"


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (
            {"components": [{"metric": "karma", "weight": 100, "rule": "passthrough"}]},
            {"components": {"0": {"metric": ["Unknown metric 'karma'."]}}},
        ),
        (
            {
                "components": [
                    {"metric": "logins", "weight": 50, "rule": "passthrough"},
                    {"metric": "nps", "weight": 50, "rule": "linear", "params": {"worst": 0}},
                ]
            },
            {
                "components": {
                    "1": {
                        "params": [
                            'A linear range needs numbers "worst" (scores 0) and "best" '
                            "(scores 100)."
                        ]
                    }
                }
            },
        ),
        (
            {
                "components": [
                    {"metric": "logins", "weight": 50, "rule": "passthrough"},
                    {"metric": "logins", "weight": 50, "rule": "passthrough"},
                ]
            },
            {
                "components": {
                    "1": {
                        "metric": ["Already used by component 0: a model scores each metric once."]
                    }
                }
            },
        ),
        (
            {
                "components": [
                    {"metric": "logins", "weight": 100, "rule": "per_unit", "params": {"points": 2}}
                ]
            },
            {
                "components": {
                    "0": {
                        "params": [
                            "Points per unit belong to points models; use a 0–100 rule here."
                        ]
                    }
                }
            },
        ),
        (
            {
                "components": [
                    {"metric": "logins", "weight": 100, "rule": "passthrough", "missing": "default"}
                ]
            },
            {
                "components": {
                    "0": {"default_value": ["Give the default value, or choose `missing: skip`."]}
                }
            },
        ),
        (
            {"components": [{"metric": "logins", "weight": 101, "rule": "passthrough"}]},
            {"components": {"0": {"weight": ["Ensure this value is less than or equal to 100."]}}},
        ),
        (
            {"components": [{"metric": "logins", "weight": 100, "rule": "curve"}]},
            {"components": {"0": {"rule": ['"curve" is not a valid choice.']}}},
        ),
        (
            {"bands": [{"name": "Low", "lower": 10}, {"name": "High", "lower": 50}]},
            {
                "bands": {
                    "non_field_errors": [
                        "No band covers scores below 10: start the lowest band at 0 or "
                        "leave it open below."
                    ]
                }
            },
        ),
        (
            {"bands": [{"name": "Low", "lower": None}, {"name": "Low", "lower": 50}]},
            {"bands": {"non_field_errors": ["Band names must be unique within a model."]}},
        ),
        (
            {"bands": [{"name": "Low", "lower": None, "color": "red"}]},
            {"bands": {"0": {"color": ["A colour as #rrggbb, e.g. #16a34a."]}}},
        ),
        (
            {"components": [{"metric": "logins", "weight": 90, "rule": "passthrough"}]},
            {"non_field_errors": ["Weights sum to 90 %; they must sum to 100 % (Logins 90)."]},
        ),
        ({"components": []}, {"non_field_errors": ["The model has no components."]}),
        (
            {"key": "no spaces please"},
            {
                "key": [
                    'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
                ]
            },
        ),
    ],
)
def test_a_bad_model_is_400_naming_the_component_or_band_and_its_field(
    metrics, api_as, change, fields
):
    response = api_as("config:write").post(MODELS, weighted(**change), format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == fields
    assert not ScoringModel.objects.exists()
    assert not ScoringComponent.objects.exists()


def test_creating_a_model_requires_its_parts(metrics, api_as):
    response = api_as("config:write").post(MODELS, {"kind": "points"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        name: ["This field is required."] for name in ("key", "name", "components", "bands")
    }


def test_a_draft_changes_until_it_is_activated_then_it_is_frozen(metrics, api_as):
    api = api_as("config:read", "config:write")
    draft = api.post(MODELS, weighted(), format="json").json()

    renamed = api.patch(model_url(draft["id"]), {"name": "Health v1"}, format="json")
    reweighted = api.patch(
        model_url(draft["id"]),
        {"components": [{"metric": "csat", "weight": 100, "rule": "passthrough"}]},
        format="json",
    )
    activated = api.post(activate_url(draft["id"]))
    frozen = api.patch(model_url(draft["id"]), {"name": "Sneaky"}, format="json")
    twice = api.post(activate_url(draft["id"]))

    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["name"] == "Health v1"
    assert renamed.json()["components"] == draft["components"]  # not given: kept
    assert [c["metric"] for c in reweighted.json()["components"]] == ["csat"]
    assert activated.status_code == 200, activated.content
    assert activated.json()["status"] == "active"
    assert activated.json()["activated_at"]
    assert frozen.status_code == 409
    assert error_of(frozen)["code"] == "not_draft"
    assert "only drafts can be changed" in error_of(frozen)["message"]
    assert twice.status_code == 409
    assert ScoringModel.objects.get().name == "Health v1"


def test_a_bad_change_to_a_draft_changes_nothing(metrics, api_as):
    api = api_as("config:write")
    draft = api.post(MODELS, weighted(), format="json").json()

    response = api.patch(
        model_url(draft["id"]),
        {
            "name": "Renamed",
            "components": [{"metric": "logins", "weight": 10, "rule": "passthrough"}],
        },
        format="json",
    )

    assert response.status_code == 400
    model = ScoringModel.objects.get()
    assert model.name == "Default health"
    assert [c.metric.key for c in model.components.all()] == ["logins", "nps"]


def test_a_new_version_is_made_from_the_active_one_and_replaces_it_on_activation(metrics, api_as):
    api = api_as("config:read", "config:write")
    v1 = api.post(MODELS, weighted(), format="json").json()
    api.post(activate_url(v1["id"]))

    v2 = api.post(MODELS, {"based_on": v1["id"], "name": "Default health (2027)"}, format="json")
    v3 = api.post(MODELS, weighted(name="From scratch"), format="json")
    renamed_copy = api.post(MODELS, {"based_on": v1["id"], "key": "other"}, format="json")

    assert v2.status_code == 201, v2.content
    v2 = v2.json()
    assert (v2["key"], v2["version"], v2["status"], v2["based_on"]) == (
        "default",
        2,
        "draft",
        v1["id"],
    )
    assert v2["name"] == "Default health (2027)"
    assert v2["components"] == v1["components"] and v2["bands"] == v1["bands"]
    assert v3.json()["version"] == 3
    assert renamed_copy.status_code == 400
    assert "keeps its key" in error_of(renamed_copy)["fields"]["key"][0]

    assert api.post(activate_url(v2["id"])).json()["status"] == "active"
    statuses = dict(ScoringModel.objects.values_list("version", "status"))
    assert statuses == {1: "retired", 2: "active", 3: "draft"}
    active = api.get(MODELS, {"status": "active"}).json()["results"]
    assert [(m["key"], m["version"]) for m in active] == [("default", 2)]
    assert api.get(MODELS, {"status": "asleep"}).status_code == 400


def test_a_draft_that_cannot_score_is_not_activated(metrics, api_as):
    draft = make_model(
        "half",
        components=[{"metric": "logins", "rule": "passthrough", "weight": 50}],
        bands=[("Low", None)],
        activate=False,
    )
    response = api_as("config:write").post(activate_url(draft.pk))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_model"
    assert "Weights sum to 50 %" in error["message"]
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_missing_models_are_404(db, api_as):
    api = api_as("config:read", "config:write")
    assert api.get(model_url(999)).status_code == 404
    assert api.patch(model_url(999), {"name": "X"}, format="json").status_code == 404
    assert api.post(activate_url(999)).status_code == 404


def test_listing_models_costs_the_same_queries_for_one_or_five(metrics, api_as):
    api = api_as("config:read")
    api.get(MODELS)  # the token's first use is recorded once

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(MODELS).status_code == 200
        return len(captured)

    make_model("m0", components=[{"metric": "logins", "weight": 100}], bands=[("All", None)])
    one = queries()
    for i in range(1, 5):
        make_model(f"m{i}", components=[{"metric": "nps", "weight": 100}], bands=[("All", None)])
    assert queries() == one


def test_a_metric_key_taken_meanwhile_is_reported_on_the_key(db):
    # What a request racing another for the same new key meets after the serializer's
    # own check has passed: the unique index decides, and says so on the field.
    from django.core.exceptions import ValidationError

    from scoring.services import metric_save

    make_metric("nps")
    with pytest.raises(ValidationError) as error:
        metric_save(fields={"key": "nps", "name": "NPS again"})
    assert error.value.message_dict == {"key": ["A metric with this key already exists."]}
    assert Metric.objects.count() == 1
