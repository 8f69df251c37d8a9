"""Access tokens on GET /v1/me (HS256 only, every claim required), refresh rotation, reuse, logout."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import falcon.testing
import pytest

from api.app import create_app
from models import db
from models.identity import RefreshToken, User
from services.passwords import fingerprint
from services.tokens import ACCESS, EMAIL_CONFIRM, PASSWORD_RESET, REFRESH, token_hash
from tests.support.identity import (
    PROBLEM_JSON,
    assert_problem,
    b64url_json,
    codec,
    confirmation_token,
    decode_part,
    forge,
    login_tokens,
    logout,
    me,
    purpose_key,
    refresh,
    register,
    signed_in,
    tamper_signature,
)


@pytest.fixture
def session(client, stack):
    """A confirmed, signed-in user: (user, token pair)."""
    return signed_in(client, "ada@example.com")


def access_claims(user_id: str, **changes: object) -> dict[str, object]:
    """The claims the service puts in an access token for this user (`pwd` binds it to the password)."""
    now = int(time.time())
    with db.connection():
        user = User.get_or_none(User.id == user_id)
    claims: dict[str, object] = {"sub": user_id, "typ": ACCESS, "jti": "forged-jti", "iat": now, "exp": now + 600,
                                 "pwd": fingerprint(user.password_hash) if user else "0" * 16}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def assert_unauthenticated(client, token: str) -> None:
    assert_problem(me(client, token), 401, "unauthenticated")


# --- GET /v1/me ----------------------------------------------------------------------------------

def test_me_with_a_fresh_access_token(client, session):
    user, pair = session
    result = me(client, pair["access_token"])
    assert result.status_code == 200
    assert result.json == {**user, "email_confirmed": True}
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    claims = decode_part(pair["access_token"], 1)
    assert claims["exp"] - claims["iat"] == 900 and claims["sub"] == user["id"] and claims["typ"] == ACCESS
    assert decode_part(pair["access_token"], 0) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}


def test_stack_key_derivation_matches_the_codec(client, stack, session):
    """The forging helpers below sign exactly as the service does (so refusals are about the token)."""
    user, _ = session
    token = forge({"alg": "HS256", "kid": "k1", "typ": "JWT"}, access_claims(user["id"]),
                  purpose_key(stack.settings, ACCESS))
    assert me(client, token).status_code == 200


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWRhOnB3"},
    {"Authorization": "Token abc"},
])
def test_missing_or_malformed_authorization(client, stack, headers):
    result = client.simulate_get("/v1/me", headers=headers)
    assert_problem(result, 401, "unauthenticated")
    assert result.headers["content-type"] == PROBLEM_JSON


def test_bearer_scheme_is_case_insensitive(client, session):
    _, pair = session
    assert client.simulate_get("/v1/me", headers={"Authorization": f"bearer {pair['access_token']}"}
                               ).status_code == 200


@pytest.mark.parametrize("header", [
    {"alg": "none", "kid": "k1", "typ": "JWT"},
    {"alg": "HS512", "kid": "k1", "typ": "JWT"},
    {"alg": "HS384", "kid": "k1", "typ": "JWT"},
    {"alg": "RS256", "kid": "k1", "typ": "JWT"},
    {"alg": "HS256", "typ": "JWT"},
    {"alg": "HS256", "kid": "k2", "typ": "JWT"},
    {"alg": "HS256", "kid": "", "typ": "JWT"},
])
def test_unsupported_headers_are_refused(client, stack, session, header):
    user, _ = session
    key = purpose_key(stack.settings, ACCESS)
    digest = {"HS512": "sha512", "HS384": "sha384"}.get(header["alg"], "sha256")
    token = forge(header, access_claims(user["id"]), None if header["alg"] == "none" else key, digest)
    assert_unauthenticated(client, token)


def test_unknown_kid_signed_with_a_key_derived_for_it_is_refused(client, stack, session):
    user, _ = session
    token = forge({"alg": "HS256", "kid": "k2"}, access_claims(user["id"]), purpose_key(stack.settings, ACCESS, "k2"))
    assert_unauthenticated(client, token)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti", "typ"])
def test_every_claim_is_required(client, stack, session, missing):
    user, _ = session
    token = forge({"alg": "HS256", "kid": "k1"}, access_claims(user["id"], **{missing: None}),
                  purpose_key(stack.settings, ACCESS))
    assert missing not in decode_part(token, 1)
    assert_unauthenticated(client, token)


def test_access_tokens_are_bound_to_the_current_password(client, stack, session):
    user, pair = session
    assert set(decode_part(pair["access_token"], 1)) == {"sub", "typ", "jti", "iat", "exp", "pwd"}
    key = purpose_key(stack.settings, ACCESS)
    header = {"alg": "HS256", "kid": "k1"}
    assert me(client, forge(header, access_claims(user["id"]), key)).status_code == 200
    assert_unauthenticated(client, forge(header, access_claims(user["id"], pwd=None), key))
    assert_unauthenticated(client, forge(header, access_claims(user["id"], pwd="0" * 16), key))


def test_tampered_tokens_are_refused(client, stack, session):
    _, pair = session
    other = register(client, "eve@example.com").json
    access = pair["access_token"]
    assert_unauthenticated(client, tamper_signature(access))
    head, payload, signature = access.split(".")
    claims = decode_part(access, 1)
    for changed in ({**claims, "sub": other["id"]}, {**claims, "exp": claims["exp"] + 3600}):
        assert_unauthenticated(client, f"{head}.{b64url_json(changed)}.{signature}")
    assert_unauthenticated(client, f"{head}.{payload}.")
    assert_unauthenticated(client, f"{head}.{payload}")
    assert_unauthenticated(client, access + "x")


def test_expired_access_token_is_refused(client, stack, session):
    user, _ = session
    expired, _ = codec(stack.settings).issue(ACCESS, user["id"], -1, pwd=access_claims(user["id"])["pwd"])
    assert_unauthenticated(client, expired)
    stale = forge({"alg": "HS256", "kid": "k1"}, access_claims(user["id"], iat=int(time.time()) - 1000,
                                                              exp=int(time.time()) - 100),
                  purpose_key(stack.settings, ACCESS))
    assert_unauthenticated(client, stale)


def test_token_signed_with_another_secret_is_refused(client, stack, session):
    user, _ = session
    token, _ = codec(stack.settings, secret_key="x" * 40).issue(ACCESS, user["id"], 600,
                                                                pwd=access_claims(user["id"])["pwd"])
    assert_unauthenticated(client, token)


def test_other_kinds_of_token_are_not_access_tokens(client, stack, session):
    user, pair = session
    own = codec(stack.settings)
    assert_unauthenticated(client, pair["refresh_token"])
    assert_unauthenticated(client, confirmation_token("ada@example.com"))
    pwd = access_claims(user["id"])["pwd"]
    for purpose in (REFRESH, EMAIL_CONFIRM, PASSWORD_RESET):
        assert_unauthenticated(client, own.issue(purpose, user["id"], 600, pwd=pwd)[0])
    # Even an access-typed claim set signed with another purpose's key.
    for purpose in (REFRESH, EMAIL_CONFIRM, PASSWORD_RESET):
        token = forge({"alg": "HS256", "kid": "k1"}, access_claims(user["id"]), purpose_key(stack.settings, purpose))
        assert_unauthenticated(client, token)
    assert me(client, pair["access_token"]).status_code == 200


def test_valid_token_for_a_user_that_does_not_exist(client, stack):
    token, _ = codec(stack.settings).issue(ACCESS, "usr_nobody", 600)
    assert_unauthenticated(client, token)


@pytest.mark.parametrize("junk", ["x", "a.b.c", "ü", "e30.e30.e30", "Bearer abc"])
def test_junk_bearer_values(client, stack, junk):
    assert_unauthenticated(client, junk)


# --- refresh -------------------------------------------------------------------------------------

def test_refresh_rotates_and_spends_the_old_token(client, session):
    user, first = session
    rotated = refresh(client, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["token_type"] == "Bearer" and second["expires_in"] == 900
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert me(client, second["access_token"]).json["id"] == user["id"]

    third = refresh(client, second["refresh_token"])
    assert third.status_code == 200
    with db.connection():
        rows = list(RefreshToken.select().order_by(RefreshToken.created_at))
    assert len(rows) == 3 and len({row.family_id for row in rows}) == 1
    assert [row.spent_at is not None for row in rows] == [True, True, False]
    # Only a digest of each token is stored.
    assert [row.token_hash for row in rows[:2]] == [token_hash(first["refresh_token"]),
                                                    token_hash(second["refresh_token"])]


def test_reusing_a_spent_refresh_token_revokes_the_family_only(client, session):
    _, family_a = session
    family_b = login_tokens(client, "ada@example.com")  # another device, another family

    newest_a = refresh(client, family_a["refresh_token"]).json
    replay = refresh(client, family_a["refresh_token"])
    assert_problem(replay, 401, "invalid_token")
    # The thief's replay killed the whole family: the legitimate newest token is dead too.
    assert_problem(refresh(client, newest_a["refresh_token"]), 401, "invalid_token")
    assert_problem(refresh(client, family_a["refresh_token"]), 401, "invalid_token")

    rotated_b = refresh(client, family_b["refresh_token"])
    assert rotated_b.status_code == 200
    assert refresh(client, rotated_b.json["refresh_token"]).status_code == 200


def test_concurrent_refreshes_of_one_token_succeed_at_most_once(deps, session):
    _, pair = session
    app = create_app(deps)
    barrier = threading.Barrier(2, timeout=10)

    def attempt(_: int) -> falcon.testing.Result:
        client = falcon.testing.TestClient(app)
        barrier.wait()
        return refresh(client, pair["refresh_token"])

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, range(2)))
    statuses = sorted(result.status_code for result in results)
    assert statuses in ([200, 401], [401, 401]), [result.text for result in results]
    with db.connection():
        assert RefreshToken.select().where(RefreshToken.spent_at.is_null(),
                                           RefreshToken.revoked_at.is_null()).count() == 0


def test_access_token_is_not_a_refresh_token(client, session):
    _, pair = session
    assert_problem(refresh(client, pair["access_token"]), 401, "invalid_token")
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_bad_refresh_tokens(client, stack, session):
    user, pair = session
    own = codec(stack.settings)
    bad = {
        "garbage": "not-a-token",
        "tampered": tamper_signature(pair["refresh_token"]),
        "expired": own.issue(REFRESH, user["id"], -1)[0],
        "never_issued": own.issue(REFRESH, user["id"], 3600)[0],  # well signed, but no row
        "other_secret": codec(stack.settings, secret_key="y" * 40).issue(REFRESH, user["id"], 3600)[0],
        "confirmation": confirmation_token("ada@example.com"),
    }
    for name, token in bad.items():
        body = assert_problem(refresh(client, token), 401, "invalid_token")
        assert token not in body.get("detail", ""), name
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_a_refresh_token_row_must_match_the_token(client, stack, session):
    """A token re-signed with the same jti but other claims is not the token that was issued."""
    user, pair = session
    jti = decode_part(pair["refresh_token"], 1)["jti"]
    token, _ = codec(stack.settings).issue(REFRESH, user["id"], 7200, jti=jti)
    assert token != pair["refresh_token"]
    assert_problem(refresh(client, token), 401, "invalid_token")


# --- logout --------------------------------------------------------------------------------------

def test_logout_revokes_the_family_and_is_idempotent(client, session):
    _, pair = session
    other_device = login_tokens(client, "ada@example.com")
    rotated = refresh(client, pair["refresh_token"]).json

    first = logout(client, rotated["refresh_token"])
    assert first.status_code == 204 and first.text == ""
    assert logout(client, rotated["refresh_token"]).status_code == 204
    assert_problem(refresh(client, rotated["refresh_token"]), 401, "invalid_token")
    assert refresh(client, other_device["refresh_token"]).status_code == 200


def test_logout_with_junk_or_an_access_token_is_204(client, session):
    _, pair = session
    assert logout(client, "junk").status_code == 204
    assert logout(client, pair["access_token"]).status_code == 204
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_logout_requires_a_body(client, stack):
    assert_problem(client.simulate_post("/v1/auth/logout", json={}), 422, "validation_error")

