"""The admin and the API write scoring configuration through the same services: the same
draft comes out of either door, the same problems are refused by both, and a metric in
use is kept by both."""

from __future__ import annotations

from django.urls import reverse

from scoring.models import Metric, ScoringModel
from tests.scoring.builders import make_metric

COMPONENTS = [
    ("logins", 60, "linear", '{"worst": 0, "best": 20}', {"worst": 0, "best": 20}),
    ("nps", 40, "passthrough", "{}", {}),
]
BANDS = [("Low", None, "#dc2626", "at_risk"), ("High", 50, "#16a34a", "healthy")]


def admin_post(key: str, components=COMPONENTS, bands=BANDS) -> dict:
    data = {
        "key": key,
        "name": "Health",
        "kind": "weighted",
        "components-TOTAL_FORMS": len(components),
        "components-INITIAL_FORMS": 0,
        "bands-TOTAL_FORMS": len(bands),
        "bands-INITIAL_FORMS": 0,
    }
    metrics = {m.key: m.pk for m in Metric.objects.all()}
    for i, (metric, weight, rule, params, _) in enumerate(components):
        data |= {
            f"components-{i}-metric": metrics[metric],
            f"components-{i}-position": i,
            f"components-{i}-weight": weight,
            f"components-{i}-rule": rule,
            f"components-{i}-params": params,
            f"components-{i}-missing": "skip",
        }
    for i, (name, lower, color, level) in enumerate(bands):
        data |= {
            f"bands-{i}-name": name,
            f"bands-{i}-lower": "" if lower is None else lower,
            f"bands-{i}-color": color,
            f"bands-{i}-level": level,
        }
    return data


def api_body(key: str, components=COMPONENTS, bands=BANDS) -> dict:
    return {
        "key": key,
        "name": "Health",
        "kind": "weighted",
        "components": [
            {"metric": metric, "weight": weight, "rule": rule, "params": params}
            for metric, weight, rule, _, params in components
        ],
        "bands": [
            {"name": name, "lower": lower, "color": color, "level": level}
            for name, lower, color, level in bands
        ],
    }


def stored(key: str) -> tuple:
    model = ScoringModel.objects.get(key=key)
    return (
        (model.version, model.status, model.name, model.kind, model.exit_margin),
        [
            (c.metric.key, c.label, c.position, c.weight, c.rule, c.params, c.rollup, c.window_days)
            for c in model.components.select_related("metric").order_by("position")
        ],
        [(b.name, b.lower, b.color, b.level) for b in model.bands.all()],
    )


def test_the_admin_and_the_api_save_the_same_draft(ada, client_as, api_as):
    make_metric("logins", rollup="sum", window_days=14)
    make_metric("nps")

    by_admin = client_as(ada).post(reverse("admin:scoring_scoringmodel_add"), admin_post("a"))
    by_api = api_as("config:write").post("/api/v1/scoring-models/", api_body("b"), format="json")

    assert by_admin.status_code == 302
    assert by_api.status_code == 201, by_api.content
    assert stored("a") == stored("b")
    assert stored("a")[1][0][-2:] == ("sum", 14)  # the metric's roll-up, copied


def test_both_doors_refuse_a_draft_with_no_bands(ada, client_as, api_as):
    make_metric("logins")
    make_metric("nps")

    by_admin = client_as(ada).post(
        reverse("admin:scoring_scoringmodel_add"), admin_post("a", bands=[])
    )
    by_api = api_as("config:write").post(
        "/api/v1/scoring-models/", api_body("b", bands=[]), format="json"
    )

    assert by_admin.status_code == 200
    assert by_admin.context["inline_admin_formsets"][1].formset.non_form_errors() == [
        "The model has no bands."
    ]
    assert by_api.status_code == 400
    assert by_api.json()["error"]["fields"] == {
        "bands": {"non_field_errors": ["The model has no bands."]}
    }
    assert not ScoringModel.objects.exists()


def test_both_doors_refuse_weights_that_miss_100_in_the_same_words(ada, client_as, api_as):
    make_metric("logins")
    make_metric("nps")
    short = [COMPONENTS[0], ("nps", 30, "passthrough", "{}", {})]

    by_admin = client_as(ada).post(
        reverse("admin:scoring_scoringmodel_add"), admin_post("a", components=short)
    )
    by_api = api_as("config:write").post(
        "/api/v1/scoring-models/", api_body("b", components=short), format="json"
    )

    said = "Weights sum to 90 %; they must sum to 100 % (Logins 60, Nps 30)."
    assert by_admin.context["inline_admin_formsets"][0].formset.non_form_errors() == [said]
    assert by_api.json()["error"]["fields"] == {"non_field_errors": [said]}
    assert not ScoringModel.objects.exists()


def test_a_metric_in_use_is_deleted_by_neither_door(ada, client_as, api_as):
    make_metric("logins")
    make_metric("nps")
    api_as("config:write").post("/api/v1/scoring-models/", api_body("b"), format="json")
    logins = Metric.objects.get(key="logins")

    page = client_as(ada).post(
        reverse("admin:scoring_metric_delete", args=[logins.pk]), {"post": "yes"}
    )
    by_api = api_as("config:write").delete("/api/v1/metrics/logins/")

    assert page.status_code == 200  # the admin's page of what protects it
    assert "Cannot delete" in page.content.decode()
    assert by_api.status_code == 409
    assert Metric.objects.filter(key="logins").exists()
