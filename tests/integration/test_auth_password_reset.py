"""POST /v1/auth/password-reset and /v1/auth/password-reset/confirm (+ the GET form)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import falcon.testing
import pytest

from api.app import create_app
from models import db
from models.identity import RefreshToken
from services.passwords import fingerprint
from services.tokens import ACCESS, EMAIL_CONFIRM, PASSWORD_RESET, REFRESH
from tests.support import inbox
from tests.support.identity import (
    PASSWORD,
    assert_problem,
    codec,
    confirmation_token,
    decode_part,
    email_context,
    emails,
    login,
    login_tokens,
    me,
    path_of,
    refresh,
    register,
    register_and_confirm,
    request_reset,
    reset_password,
    reset_token,
    signed_in,
    tamper_signature,
    token_of,
    user_row,
)

NEW_PASSWORD = "a brand new passphrase"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,*/*;q=0.8"


def test_request_is_202_with_the_same_answer_for_everyone(client, stack):
    register_and_confirm(client, "ada@example.com")
    register(client, "pending@example.com")
    answers = [request_reset(client, address)
               for address in ("ada@example.com", "pending@example.com", "nobody@example.com")]
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert answers[0].json == answers[1].json == answers[2].json and answers[0].json["message"]
    assert {answer.headers["content-type"] for answer in answers} == {answers[0].headers["content-type"]}
    assert len(emails(to="ada@example.com", template="password_reset")) == 1
    assert len(emails(to="pending@example.com", template="password_reset")) == 1
    assert emails(to="nobody@example.com") == []


def test_the_emailed_link_carries_a_one_hour_reset_token(client, stack):
    user = register_and_confirm(client, "ada@example.com")
    request_reset(client, "ADA@Example.com")
    [email] = emails(template="password_reset")
    assert email.to_address == "ada@example.com" and email.tag == "password-reset"
    context = email_context(email)
    assert context["reset_url"].startswith(
        f"{stack.settings.public_base_url}/v1/auth/password-reset/confirm?token=")
    claims = decode_part(token_of(context["reset_url"]), 1)
    assert claims["typ"] == PASSWORD_RESET and claims["sub"] == user["id"]
    assert claims["exp"] - claims["iat"] == 3600


def test_reset_changes_the_password_and_ends_every_session(client, stack):
    _, laptop = signed_in(client, "ada@example.com")
    phone = login_tokens(client, "ada@example.com")
    rotated_phone = refresh(client, phone["refresh_token"]).json
    request_reset(client, "ada@example.com")

    done = reset_password(client, reset_token("ada@example.com"), NEW_PASSWORD)
    assert done.status_code == 204 and done.text == ""

    for pair in (laptop, phone, rotated_phone):
        assert_problem(refresh(client, pair["refresh_token"]), 401, "invalid_token")
        # Access tokens issued before the change die with it, even within the same second.
        assert_problem(me(client, pair["access_token"]), 401, "unauthenticated")
    with db.connection():
        assert RefreshToken.select().where(RefreshToken.revoked_at.is_null()).count() == 0

    assert_problem(login(client, "ada@example.com", PASSWORD), 401, "invalid_credentials")
    fresh = login(client, "ada@example.com", NEW_PASSWORD)
    assert fresh.status_code == 200
    assert me(client, fresh.json["access_token"]).status_code == 200
    assert refresh(client, fresh.json["refresh_token"]).status_code == 200

    [notice] = emails(template="password_changed")
    assert notice.to_address == "ada@example.com"


def test_a_reset_token_works_once(client, stack):
    register_and_confirm(client, "ada@example.com")
    request_reset(client, "ada@example.com")
    token = reset_token("ada@example.com")
    assert reset_password(client, token, NEW_PASSWORD).status_code == 204
    assert_problem(reset_password(client, token, "yet another password"), 400, "invalid_token")
    assert login(client, "ada@example.com", NEW_PASSWORD).status_code == 200


def test_a_reset_token_dies_when_another_reset_changes_the_password(client, stack):
    register_and_confirm(client, "ada@example.com")
    request_reset(client, "ada@example.com")
    first = reset_token("ada@example.com")
    request_reset(client, "ada@example.com")
    second = reset_token("ada@example.com")
    assert first != second
    assert reset_password(client, second, NEW_PASSWORD).status_code == 204
    assert_problem(reset_password(client, first, "attacker password"), 400, "invalid_token")
    assert_problem(login(client, "ada@example.com", "attacker password"), 401, "invalid_credentials")
    assert login(client, "ada@example.com", NEW_PASSWORD).status_code == 200


def test_concurrent_uses_of_one_token_change_the_password_once(deps, stack):
    app = create_app(deps)
    client = falcon.testing.TestClient(app)
    register_and_confirm(client, "ada@example.com")
    request_reset(client, "ada@example.com")
    token = reset_token("ada@example.com")
    candidates = ["first candidate pw", "second candidate pw", "third candidate pw"]
    barrier = threading.Barrier(len(candidates), timeout=10)

    def use(password: str) -> int:
        own = falcon.testing.TestClient(app)
        barrier.wait()
        return reset_password(own, token, password).status_code

    with ThreadPoolExecutor(len(candidates)) as pool:
        statuses = list(pool.map(use, candidates))
    assert sorted(statuses) == [204, 400, 400], statuses
    winner = candidates[statuses.index(204)]
    assert [login(client, "ada@example.com", pw).status_code == 200 for pw in candidates].count(True) == 1
    assert login(client, "ada@example.com", winner).status_code == 200
    assert len(emails(template="password_changed")) == 1


def test_bad_reset_tokens_are_refused(client, stack):
    user = register_and_confirm(client, "ada@example.com")
    row = user_row("ada@example.com")
    own = codec(stack.settings)
    pwd = fingerprint(row.password_hash)
    request_reset(client, "ada@example.com")
    real = reset_token("ada@example.com")
    bad = {
        "garbage": "garbage",
        "expired": own.issue(PASSWORD_RESET, user["id"], -1, pwd=pwd)[0],
        "other_secret": codec(stack.settings, secret_key="z" * 40).issue(PASSWORD_RESET, user["id"], 3600,
                                                                        pwd=pwd)[0],
        "tampered": tamper_signature(real),
        "no_fingerprint": own.issue(PASSWORD_RESET, user["id"], 3600)[0],
        "wrong_fingerprint": own.issue(PASSWORD_RESET, user["id"], 3600, pwd="0" * 16)[0],
        "unknown_user": own.issue(PASSWORD_RESET, "usr_nobody", 3600, pwd=pwd)[0],
        "confirmation_token": confirmation_token("ada@example.com"),
        "confirm_purpose": own.issue(EMAIL_CONFIRM, user["id"], 3600, pwd=pwd)[0],
        "access_token": own.issue(ACCESS, user["id"], 3600, pwd=pwd)[0],
        "refresh_token": own.issue(REFRESH, user["id"], 3600, pwd=pwd)[0],
    }
    for name, token in bad.items():
        body = assert_problem(reset_password(client, token, NEW_PASSWORD), 400, "invalid_token")
        assert token not in body.get("detail", ""), name
    assert user_row("ada@example.com").password_hash == row.password_hash
    assert login(client, "ada@example.com", PASSWORD).status_code == 200
    # A well-formed, unexpired, correctly bound token issued by the codec does work.
    assert reset_password(client, own.issue(PASSWORD_RESET, user["id"], 60, pwd=pwd)[0],
                          NEW_PASSWORD).status_code == 204


@pytest.mark.parametrize(("body", "field"), [
    ({"token": "t", "password": "short"}, "password"),
    ({"token": "t"}, "password"),
    ({"password": NEW_PASSWORD}, "token"),
    ({"token": "", "password": NEW_PASSWORD}, "token"),
    ({"token": "t", "password": NEW_PASSWORD, "email": "ada@example.com"}, "email"),
    ({"token": "t", "password": 12345678}, "password"),
])
def test_confirm_validation(client, stack, body, field):
    result = client.simulate_post("/v1/auth/password-reset/confirm", json=body)
    problem = assert_problem(result, 422, "validation_error")
    assert field in {error["field"] for error in problem["errors"]}


def test_a_short_new_password_keeps_the_token_usable(client, stack):
    register_and_confirm(client, "ada@example.com")
    request_reset(client, "ada@example.com")
    token = reset_token("ada@example.com")
    assert_problem(reset_password(client, token, "short"), 422, "validation_error")
    assert reset_password(client, token, NEW_PASSWORD).status_code == 204


def test_the_link_opens_a_form(client, stack):
    register_and_confirm(client, "ada@example.com")
    request_reset(client, "ada@example.com")
    [email] = emails(template="password_reset")
    page = client.simulate_get(path_of(email_context(email)["reset_url"]), headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<form" in page.text and 'type="password"' in page.text
    assert reset_token("ada@example.com") in page.text


def test_the_form_does_not_reflect_a_hostile_token(client, stack):
    hostile = '</script><script>alert("x")</script>'
    page = client.simulate_get("/v1/auth/password-reset/confirm", params={"token": hostile})
    assert page.status_code == 200
    assert hostile not in page.text and "<script>alert" not in page.text


@pytest.mark.parametrize("address", ["ada@example.com", "nobody@example.com"])
def test_requests_are_rate_limited_per_address(client, stack, address):
    register_and_confirm(client, "ada@example.com")
    limit = stack.settings.email_requests_per_hour
    answers = [request_reset(client, address) for _ in range(limit)]
    assert {answer.status_code for answer in answers} == {202}
    limited = request_reset(client, address.upper())
    assert_problem(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["retry-after"]) <= 3601
    assert len(emails(to=address, template="password_reset")) == (limit if address.startswith("ada") else 0)
    assert request_reset(client, "else@example.com").status_code == 202


def test_parallel_requests_send_no_more_than_the_limit(deps, stack):
    app = create_app(deps)
    client = falcon.testing.TestClient(app)
    register_and_confirm(client, "ada@example.com")
    attempts = 10
    barrier = threading.Barrier(attempts, timeout=10)

    def ask(_: int) -> int:
        own = falcon.testing.TestClient(app)
        barrier.wait()
        return request_reset(own, "ada@example.com").status_code

    with ThreadPoolExecutor(attempts) as pool:
        statuses = list(pool.map(ask, range(attempts)))
    limit = stack.settings.email_requests_per_hour
    assert statuses.count(202) == limit and statuses.count(429) == attempts - limit, statuses
    assert len(emails(to="ada@example.com", template="password_reset")) == limit


def test_reset_through_the_real_email(client, stack, worker):
    """The link as delivered by a real worker to the Mailgun sandbox, in text and HTML."""
    register_and_confirm(client, "ada@example.com")
    assert request_reset(client, "ada@example.com").status_code == 202
    message = inbox.wait_for_message(stack.mailgun_url, "ada@example.com", "password-reset")
    link = inbox.link(message, "/v1/auth/password-reset/confirm?token=")
    assert link.startswith(stack.settings.public_base_url)
    form = client.simulate_get(path_of(link), headers={"Accept": BROWSER_ACCEPT})
    assert form.status_code == 200 and "<form" in form.text
    assert reset_password(client, token_of(link), NEW_PASSWORD).status_code == 204
    assert_problem(reset_password(client, token_of(link), NEW_PASSWORD), 400, "invalid_token")
    assert login(client, "ada@example.com", NEW_PASSWORD).status_code == 200
    inbox.wait_for_message(stack.mailgun_url, "ada@example.com", "password-changed")
