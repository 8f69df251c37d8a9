"""Health checks, the catch-all error handler, request ids and structured logs."""

from __future__ import annotations

import json
import logging

import falcon.testing
import redis

from api.app import create_app
from api.deps import build_deps
from models.outbox import Email
from services.jobs import BrokerDispatcher
from workers.broker import make_broker


def test_health_checks_database_and_broker(client):
    response = client.simulate_get("/v1/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_health_names_the_failing_check(stack):
    broken = stack.settings.replace(redis_url="redis://127.0.0.1:1/0")
    deps = build_deps(broken, BrokerDispatcher(make_broker(broken)),
                      client=redis.Redis.from_url(broken.redis_url, socket_connect_timeout=0.5))
    response = falcon.testing.TestClient(create_app(deps)).simulate_get("/v1/health")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "broker": "unavailable"}


def test_unexpected_error_is_a_bare_500_problem(client, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr("services.identity.IdentityService.resend_confirmation", explode)
    with caplog.at_level(logging.ERROR):
        response = client.simulate_post("/v1/auth/resend-confirmation", json={"email": "a@example.com"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json["code"] == "internal_error"
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"]
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and "SELECT secret" in logged[0].exc_text


def test_unknown_route_and_method_are_problems(client):
    assert client.simulate_get("/v1/nowhere").json["code"] == "not_found"
    response = client.simulate_delete("/v1/auth/login")
    assert response.status_code == 405 and response.json["code"] == "method_not_allowed"


def test_request_id_is_echoed_and_travels_with_the_job(client):
    response = client.simulate_post("/v1/auth/register", headers={"X-Request-ID": "req-test-12345"},
                                    json={"email": "rid@example.com", "password": "password123", "full_name": "R"})
    assert response.headers["x-request-id"] == "req-test-12345"
    assert Email.get(Email.to_address == "rid@example.com").request_id == "req-test-12345"
    hostile = client.simulate_get("/v1/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert hostile.headers["x-request-id"] != "bad id\nwith newline"


def test_logs_are_one_json_object_per_line_with_request_id(capfd):
    from services.log import JsonFormatter, request_id_var

    formatter = JsonFormatter()
    token = request_id_var.set("rid-1")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        record.password = "hunter2"  # a field named like a secret never reaches the log
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["msg"] == "hello world" and entry["request_id"] == "rid-1"
    assert entry["password"] == "[redacted]" and "\n" not in line
