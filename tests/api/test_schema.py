"""The OpenAPI schema describes every operation, its errors and its security, and
the interactive docs page runs on our own assets."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi_without_a_single_warning(db):
    # --fail-on-warn turns any unresolved type or missing annotation into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


def test_the_schema_is_served_to_anyone(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert "/api/v1/accounts/{external_id}/" in body["paths"]


def test_a_stale_token_does_not_hide_the_schema(client, db):
    response = client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer vit_gone_gone")
    assert response.status_code == 200


def test_every_operation_needs_a_bearer_token_and_documents_its_errors(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `Authorization: Bearer vit_<prefix>_<secret>`.",
    }
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) == 43
    for path, method, operation in operations:
        assert operation["security"] == [{"bearerAuth": []}], (path, method)
        for status in ("401", "403", "429"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (path, method, status)
        if "requestBody" in operation:
            assert {"400", "413"} <= set(operation["responses"]), (path, method)
        if "{external_id}" in path:
            assert "404" in operation["responses"], (path, method)


def test_the_documented_responses_and_parameters(schema):
    accounts = schema["paths"]["/api/v1/accounts/"]["get"]
    names = {parameter["name"] for parameter in accounts["parameters"]}
    assert {"segment", "owner", "renewal_before", "search", "ordering", "page"} <= names
    put = schema["paths"]["/api/v1/accounts/{external_id}/"]["put"]
    assert {"200", "201"} <= set(put["responses"])
    delete = schema["paths"]["/api/v1/accounts/{external_id}/"]["delete"]
    assert "204" in delete["responses"]
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"}
    bulk = schema["paths"]["/api/v1/accounts/bulk/"]["post"]["responses"]["200"]
    assert bulk["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AccountBulkResponse"
    }


def test_the_saved_views_operations_are_documented(schema):
    listing = schema["paths"]["/api/v1/saved-views/"]
    assert {"get", "post"} <= set(listing)
    assert listing["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SavedViewRequest"
    }
    assert "201" in listing["post"]["responses"]
    fields = schema["components"]["schemas"]["SavedView"]["properties"]
    assert {"id", "name", "query", "team", "owner", "url", "created_at"} <= set(fields)
    delete = schema["paths"]["/api/v1/saved-views/{id}/"]["delete"]["responses"]
    assert {"204", "404"} <= set(delete)


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(src.endswith("swagger-ui-bundle.js") for src in sources)
    assert all(src.startswith("/") for src in sources), sources
    assert "<style" not in page  # the site's CSP (style-src 'self') holds here too
    csp = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"

    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert '"/api/schema/"' in script.content.decode()


def test_the_scoring_operations_document_their_bodies_and_parameters(schema):
    paths = schema["paths"]
    components = schema["components"]["schemas"]

    def ref(response: dict) -> str:
        return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]

    signals = paths["/api/v1/signals/"]["post"]
    assert ref(signals["requestBody"]) == "SignalBatchRequest"
    assert components["SignalBatchRequest"]["properties"]["signals"]["maxItems"] == 5000
    assert set(components["SignalRequest"]["required"]) == {
        "account",
        "metric",
        "value",
        "timestamp",
    }
    assert ref(signals["responses"]["200"]) == "SignalBatchResult"
    score = paths["/api/v1/accounts/{external_id}/score/"]["get"]["responses"]["200"]
    assert ref(score) == "Score"
    assert components["Score"]["properties"]["band"]["nullable"] is True
    recompute = paths["/api/v1/accounts/{external_id}/recompute/"]["post"]["responses"]
    assert ref(recompute["200"]) == "Score" and "409" in recompute
    history = paths["/api/v1/accounts/{external_id}/scores/"]["get"]
    assert {"since", "until", "page"} <= {p["name"] for p in history["parameters"]}
    accounts = paths["/api/v1/accounts/"]["get"]
    assert "band" in {p["name"] for p in accounts["parameters"]}
    model = components["ScoringModelRequest"]["properties"]
    assert model["components"]["items"] == {"$ref": "#/components/schemas/ComponentRequest"}
    assert "409" in paths["/api/v1/metrics/{key}/"]["delete"]["responses"]
