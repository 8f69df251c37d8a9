"""/openapi.json describes every route the app serves, is a valid OpenAPI 3.1 document, and the
schemas it publishes are the ones that validate requests."""

from __future__ import annotations

import falcon.inspect
import jsonschema
from openapi_spec_validator import validate

from api.app import create_app

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def served_operations(app) -> set[tuple[str, str]]:
    served = set()
    for route in falcon.inspect.inspect_routes(app):
        for method in route.methods:
            if method.method in METHODS and not method.internal:
                served.add((route.path, method.method.lower()))
    return served


def test_every_served_route_is_documented(client, deps):
    document = client.simulate_get("/openapi.json").json
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served_operations(create_app(deps)) == documented


def test_document_is_valid_openapi_31(client):
    document = client.simulate_get("/openapi.json").json
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_documented_request_schema_agrees_with_validation(client):
    document = client.simulate_get("/openapi.json").json
    body_ref = document["paths"]["/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    schema = {"$ref": body_ref["schema"]["$ref"], "components": document["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    good = {"email": "a@example.com", "password": "password123", "full_name": "A"}
    assert not list(validator.iter_errors(good))
    for bad in ({**good, "extra": 1}, {**good, "password": "short"}, {"email": "a@example.com"}):
        assert list(validator.iter_errors(bad)), bad
        assert client.simulate_post("/v1/auth/register", json=bad).status_code == 422


def test_responses_match_their_documented_schema(client):
    document = client.simulate_get("/openapi.json").json
    health = client.simulate_get("/v1/health")
    ref = document["paths"]["/v1/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(health.json, {"$ref": ref["$ref"], "components": document["components"]})
    problem_ref = "#/components/schemas/ProblemOut"
    missing = client.simulate_get("/v1/me")
    assert missing.headers["content-type"] == "application/problem+json"
    jsonschema.validate(missing.json, {"$ref": problem_ref, "components": document["components"]})


def test_docs_page_renders_every_path(client):
    page = client.simulate_get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in client.simulate_get("/openapi.json").json["paths"]:
        assert path in page.text
