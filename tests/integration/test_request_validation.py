"""Strict request bodies on the identity endpoints: nothing a client sends gives a 5xx or creates a row."""

from __future__ import annotations

import json

import pytest

from models import db
from models.accounts import Account
from models.identity import RefreshToken, User
from models.outbox import Email
from tests.support.identity import PASSWORD, PROBLEM_JSON, assert_problem

REGISTER = "/v1/auth/register"
VALID = {"email": "ada@example.com", "password": PASSWORD, "full_name": "Ada Lovelace"}
JSON_BODY_ENDPOINTS = {
    "/v1/auth/register": VALID,
    "/v1/auth/resend-confirmation": {"email": "ada@example.com"},
    "/v1/auth/login": {"email": "ada@example.com", "password": PASSWORD},
    "/v1/auth/refresh": {"refresh_token": "x"},
    "/v1/auth/logout": {"refresh_token": "x"},
    "/v1/auth/password-reset": {"email": "ada@example.com"},
    "/v1/auth/password-reset/confirm": {"token": "x", "password": PASSWORD},
}


@pytest.fixture
def no_rows_created(stack):
    yield
    with db.connection():
        counts = {model.__name__: model.select().count() for model in (User, Account, Email, RefreshToken)}
    assert counts == {"User": 0, "Account": 0, "Email": 0, "RefreshToken": 0}


def post_raw(client, path: str, body: bytes | str, content_type: str | None = "application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    return client.simulate_post(path, body=body, headers=headers)


def fields_of(problem: dict) -> set[str]:
    return {error["field"] for error in problem["errors"]}


# --- register, field by field ------------------------------------------------------------------

def test_the_valid_body_is_accepted(client, stack):
    assert client.simulate_post(REGISTER, json=VALID).status_code == 201


@pytest.mark.usefixtures("no_rows_created")
@pytest.mark.parametrize(("changes", "field"), [
    ({"nickname": "ada"}, "nickname"),
    ({"is_admin": True}, "is_admin"),
    ({"email_confirmed": True}, "email_confirmed"),
    ({"password": "short"}, "password"),
    ({"password": "1234567"}, "password"),
    ({"password": "x" * 1025}, "password"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "ada@"}, "email"),
    ({"email": "@example.com"}, "email"),
    ({"email": "ada example@example.com"}, "email"),
    ({"email": "ada@example.com\nBcc: eve@example.com"}, "email"),
    ({"email": ""}, "email"),
    ({"email": "a" * 250 + "@example.com"}, "email"),
    ({"full_name": ""}, "full_name"),
    ({"full_name": "   "}, "full_name"),
    ({"full_name": "x" * 201}, "full_name"),
    ({"full_name": "Ada\x00Lovelace"}, "full_name"),
    ({"full_name": "Ada\nLovelace"}, "full_name"),
    # Strict types: no coercion of numbers, booleans, lists or nulls into strings.
    ({"password": 12345678}, "password"),
    ({"password": 1234567.5}, "password"),
    ({"full_name": 123}, "full_name"),
    ({"full_name": True}, "full_name"),
    ({"email": ["ada@example.com"]}, "email"),
    ({"email": {"address": "ada@example.com"}}, "email"),
    ({"email": None}, "email"),
    ({"password": None}, "password"),
])
def test_invalid_register_fields(client, changes, field):
    result = client.simulate_post(REGISTER, json={**VALID, **changes})
    problem = assert_problem(result, 422, "validation_error")
    assert field in fields_of(problem), problem
    assert all(error["message"] for error in problem["errors"])
    assert PASSWORD not in result.text


@pytest.mark.usefixtures("no_rows_created")
@pytest.mark.parametrize("missing", ["email", "password", "full_name"])
def test_missing_fields_are_named(client, missing):
    body = {name: value for name, value in VALID.items() if name != missing}
    problem = assert_problem(client.simulate_post(REGISTER, json=body), 422, "validation_error")
    assert {"field": missing, "message": "is required"} in problem["errors"]


@pytest.mark.usefixtures("no_rows_created")
def test_unknown_field_message(client):
    problem = assert_problem(client.simulate_post(REGISTER, json={**VALID, "role": "admin"}), 422,
                             "validation_error")
    assert problem["errors"] == [{"field": "role", "message": "unknown field"}]


@pytest.mark.usefixtures("no_rows_created")
def test_every_error_is_reported_at_once(client):
    problem = assert_problem(client.simulate_post(REGISTER, json={"email": "bad", "password": 1, "x": 0}), 422,
                             "validation_error")
    assert fields_of(problem) == {"email", "password", "full_name", "x"}


@pytest.mark.usefixtures("no_rows_created")
@pytest.mark.parametrize("body", ["[]", "null", '"ada@example.com"', "42", "true", "{}"])
def test_json_that_is_not_an_object(client, body):
    assert_problem(post_raw(client, REGISTER, body), 422, "validation_error")


def test_password_of_exactly_eight_characters_is_enough(client, stack):
    assert client.simulate_post(REGISTER, json={**VALID, "password": "12345678"}).status_code == 201


# --- the body itself ---------------------------------------------------------------------------

@pytest.mark.usefixtures("no_rows_created")
@pytest.mark.parametrize("raw", [
    b"{",
    b'{"email": "ada@example.com",}',
    b"{'email': 'ada@example.com'}",
    b"",
    b"   ",
    b"\xff\xfe{}",
    b'{"email": "\xe9@example.com"}',  # Latin-1, not UTF-8
    b'\xef\xbb\xbf{"email": "ada@example.com"}',  # a byte-order mark
    b'{"email": "ada@example.com"} trailing',
    b'{"password": NaN}',
    b'{"password": Infinity}',
    b'{"password": -Infinity}',
    b'{"password": ' + b"9" * 5000 + b"}",  # more digits than Python converts
])
def test_malformed_json_is_400(client, raw):
    assert_problem(post_raw(client, REGISTER, raw), 400, "invalid_json")


@pytest.mark.usefixtures("no_rows_created")
def test_deeply_nested_json_is_400_not_500(client, stack):
    depth = 30_000
    raw = b'{"email": ' + b"[" * depth + b"]" * depth + b"}"
    assert len(raw) < stack.settings.max_body_bytes
    assert_problem(post_raw(client, REGISTER, raw), 400, "invalid_json")


@pytest.mark.usefixtures("no_rows_created")
@pytest.mark.parametrize("content_type", [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/jsonx",
    None,
])
def test_wrong_content_type_is_415(client, content_type):
    result = post_raw(client, REGISTER, json.dumps(VALID), content_type)
    assert_problem(result, 415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_variants_are_accepted(client, stack, content_type):
    assert post_raw(client, REGISTER, json.dumps(VALID), content_type).status_code == 201


@pytest.mark.usefixtures("no_rows_created")
def test_body_over_the_limit_is_413(client, stack):
    limit = stack.settings.max_body_bytes
    body = json.dumps({**VALID, "full_name": "x" * limit}).encode()
    assert len(body) > limit
    result = post_raw(client, REGISTER, body)
    problem = assert_problem(result, 413, "body_too_large")
    assert str(limit) in problem["detail"]


def test_body_at_the_limit_is_read(client, stack):
    limit = stack.settings.max_body_bytes
    body = json.dumps(VALID).encode()
    body = body[:-1] + b" " * (limit - len(body)) + b"}"
    assert len(body) == limit
    assert post_raw(client, REGISTER, body).status_code == 201


# --- every JSON endpoint -----------------------------------------------------------------------

@pytest.mark.usefixtures("no_rows_created")
@pytest.mark.parametrize("path", sorted(JSON_BODY_ENDPOINTS))
def test_every_json_endpoint_is_strict(client, stack, path):
    valid = JSON_BODY_ENDPOINTS[path]
    problem = assert_problem(client.simulate_post(path, json={**valid, "extra_field": 1}), 422, "validation_error")
    assert {"field": "extra_field", "message": "unknown field"} in problem["errors"]
    assert_problem(post_raw(client, path, "{nope"), 400, "invalid_json")
    assert_problem(post_raw(client, path, '{"email": NaN}'), 400, "invalid_json")
    assert_problem(post_raw(client, path, json.dumps(valid), "text/plain"), 415, "unsupported_media_type")
    too_big = json.dumps({**valid, "pad": "x" * stack.settings.max_body_bytes})
    assert_problem(post_raw(client, path, too_big), 413, "body_too_large")
    wrong_type = {name: 12345678 for name in valid}
    problem = assert_problem(client.simulate_post(path, json=wrong_type), 422, "validation_error")
    assert fields_of(problem) == set(valid)


def test_errors_are_problem_json_without_internals(client, stack):
    for result in (
        client.simulate_post(REGISTER, json={**VALID, "password": "short"}),
        post_raw(client, REGISTER, "{"),
        client.simulate_get("/v1/auth/register"),
        client.simulate_get("/v1/no-such-route"),
    ):
        assert result.status_code in (400, 404, 405, 422)
        assert result.headers["content-type"] == PROBLEM_JSON
        body = result.json
        assert {"type", "title", "status", "code"} <= set(body) and body["status"] == result.status_code
        assert "Traceback" not in result.text and "File \"" not in result.text
    assert client.simulate_get("/v1/auth/register").json["code"] == "method_not_allowed"
    assert client.simulate_get("/v1/no-such-route").json["code"] == "not_found"
