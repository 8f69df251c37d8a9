"""POST /v1/auth/login: credentials, confirmation, and the failed-attempt throttle in Redis."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import falcon.testing
import pytest

from api.app import create_app
from tests.support.identity import (
    PASSWORD,
    assert_problem,
    login,
    me,
    register,
    register_and_confirm,
)

WRONG = "not the password"


def problem_without_volatile_fields(result) -> tuple[int, dict, str]:
    return result.status_code, result.json, result.headers["content-type"]


def test_login_returns_a_token_pair(client, stack):
    user = register_and_confirm(client, "ada@example.com")
    result = login(client, "ada@example.com")
    assert result.status_code == 200
    assert set(result.json) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert result.json["token_type"] == "Bearer"
    assert result.json["expires_in"] == stack.settings.access_token_ttl_seconds
    assert me(client, result.json["access_token"]).json["id"] == user["id"]


def test_email_is_case_insensitive_and_trimmed_password_is_not(client, stack):
    register_and_confirm(client, "ada@example.com")
    assert login(client, "ADA@Example.Com").status_code == 200
    assert_problem(login(client, "ada@example.com", PASSWORD.upper()), 401, "invalid_credentials")
    assert_problem(login(client, "ada@example.com", PASSWORD + " "), 401, "invalid_credentials")


def test_wrong_password_and_unknown_email_look_the_same(client, stack):
    register_and_confirm(client, "ada@example.com")
    wrong = login(client, "ada@example.com", WRONG)
    unknown = login(client, "nobody@example.com", WRONG)
    assert_problem(wrong, 401, "invalid_credentials")
    assert problem_without_volatile_fields(wrong) == problem_without_volatile_fields(unknown)
    assert "access_token" not in wrong.text


def test_unconfirmed_user_is_told_to_confirm_only_with_the_right_password(client, stack):
    register(client, "ada@example.com")
    assert_problem(login(client, "ada@example.com"), 403, "email_not_confirmed")
    assert_problem(login(client, "ada@example.com", WRONG), 401, "invalid_credentials")


def test_five_failures_lock_the_address_even_for_the_right_password(client, stack):
    register_and_confirm(client, "ada@example.com")
    limit = stack.settings.login_max_failures
    assert limit == 5
    for attempt in range(limit):
        assert_problem(login(client, "ada@example.com", f"{WRONG} {attempt}"), 401, "invalid_credentials")

    locked = login(client, "ada@example.com", WRONG)
    body = assert_problem(locked, 429, "too_many_attempts")
    retry_after = locked.headers["retry-after"]
    assert retry_after.isdigit() and 0 < int(retry_after) <= stack.settings.login_window_seconds + 1
    assert "access_token" not in locked.text and body["detail"]

    right = login(client, "ADA@example.com", PASSWORD)
    assert_problem(right, 429, "too_many_attempts")
    assert int(right.headers["retry-after"]) > 0

    # Other addresses are unaffected.
    register_and_confirm(client, "bob@example.com")
    assert login(client, "bob@example.com").status_code == 200
    assert_problem(login(client, "carol@example.com", WRONG), 401, "invalid_credentials")


def test_unknown_addresses_lock_the_same_way(client, stack):
    for _ in range(stack.settings.login_max_failures):
        assert_problem(login(client, "nobody@example.com", WRONG), 401, "invalid_credentials")
    assert_problem(login(client, "nobody@example.com", WRONG), 429, "too_many_attempts")


def test_failures_counted_across_letter_case(client, stack):
    register_and_confirm(client, "ada@example.com")
    for address in ("ADA@example.com", "Ada@Example.com", "ada@EXAMPLE.com", "aDa@example.com", "ada@example.com"):
        assert_problem(login(client, address, WRONG), 401, "invalid_credentials")
    assert_problem(login(client, "ada@example.com"), 429, "too_many_attempts")


def test_a_successful_login_clears_the_failures(client, stack):
    register_and_confirm(client, "ada@example.com")
    limit = stack.settings.login_max_failures
    for _ in range(limit - 1):
        login(client, "ada@example.com", WRONG)
    assert login(client, "ada@example.com").status_code == 200
    for _ in range(limit - 1):
        assert_problem(login(client, "ada@example.com", WRONG), 401, "invalid_credentials")
    assert login(client, "ada@example.com").status_code == 200


def test_the_lock_lifts_when_the_failures_leave_the_window(client, stack, deps):
    register_and_confirm(client, "ada@example.com")
    for _ in range(stack.settings.login_max_failures):
        login(client, "ada@example.com", WRONG)
    assert login(client, "ada@example.com").status_code == 429

    # Age every recorded failure past the 15-minute window instead of waiting for it.
    window = deps.identity.login_failures
    key = window._key("ada@example.com")
    members = deps.redis.zrange(key, 0, -1)
    assert len(members) == stack.settings.login_max_failures
    assert b"ada@example.com" not in key.encode()  # the address is not stored in clear text
    old = time.time() - stack.settings.login_window_seconds - 1
    deps.redis.zadd(key, {member: old for member in members})

    assert login(client, "ada@example.com").status_code == 200


def test_retry_after_counts_down_from_the_oldest_failure(client, stack, deps):
    register_and_confirm(client, "ada@example.com")
    for _ in range(stack.settings.login_max_failures):
        login(client, "ada@example.com", WRONG)
    key = deps.identity.login_failures._key("ada@example.com")
    members = deps.redis.zrange(key, 0, -1)
    # Pretend the failures happened 10 minutes ago: about 5 minutes are left.
    deps.redis.zadd(key, {member: time.time() - 600 for member in members})
    locked = login(client, "ada@example.com")
    assert locked.status_code == 429
    assert 295 <= int(locked.headers["retry-after"]) <= 302


@pytest.mark.parametrize("body", [
    {"email": "ada@example.com"},
    {"password": PASSWORD},
    {"email": "ada@example.com", "password": ""},
    {"email": "not-an-email", "password": PASSWORD},
    {"email": "ada@example.com", "password": PASSWORD, "remember_me": True},
])
def test_login_validation(client, stack, body):
    assert_problem(client.simulate_post("/v1/auth/login", json=body), 422, "validation_error")


def test_parallel_guesses_get_no_more_than_the_limit(deps, stack):
    """Checking the window and recording a failure must be one step, or N parallel guesses all pass."""
    app = create_app(deps)
    client = falcon.testing.TestClient(app)
    register_and_confirm(client, "ada@example.com")
    attempts = 12
    barrier = threading.Barrier(attempts, timeout=10)

    def guess(number: int) -> int:
        own = falcon.testing.TestClient(app)
        barrier.wait()
        return login(own, "ada@example.com", f"{WRONG} {number}").status_code

    with ThreadPoolExecutor(attempts) as pool:
        statuses = list(pool.map(guess, range(attempts)))
    assert statuses.count(401) == stack.settings.login_max_failures, statuses
    assert statuses.count(429) == attempts - stack.settings.login_max_failures
    assert login(client, "ada@example.com").status_code == 429
