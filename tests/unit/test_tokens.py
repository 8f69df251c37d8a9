"""services.tokens: HS256 only, one key per purpose and key id, required claims, expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import jwt
import pytest

from services.tokens import (
    ACCESS,
    ALGORITHM,
    EMAIL_CONFIRM,
    PASSWORD_RESET,
    REFRESH,
    TokenCodec,
    TokenError,
    claim_time,
    token_hash,
)
from tests.support.identity import b64url, b64url_json, decode_part, forge, tamper_signature

SECRET = "unit-test-secret-key-0123456789abcdef"
PURPOSES = (ACCESS, REFRESH, EMAIL_CONFIRM, PASSWORD_RESET)
CODEC = TokenCodec(SECRET, "k1")


def key(purpose: str, kid: str = "k1") -> bytes:
    return CODEC._key(purpose, kid)


def claims(purpose: str = ACCESS, **changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {"sub": "usr_1", "typ": purpose, "jti": "jti-1", "iat": now, "exp": now + 60}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_round_trip_keeps_every_claim(purpose):
    token, issued = CODEC.issue(purpose, "usr_42", 300, email="a@example.com")
    verified = CODEC.verify(purpose, token)
    assert verified == issued
    assert verified["sub"] == "usr_42" and verified["typ"] == purpose and verified["email"] == "a@example.com"
    assert verified["exp"] - verified["iat"] == 300
    assert abs(verified["iat"] - time.time()) < 5
    assert decode_part(token, 0) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}


def test_each_token_has_its_own_jti():
    first, a = CODEC.issue(REFRESH, "usr_1", 60)
    second, b = CODEC.issue(REFRESH, "usr_1", 60)
    assert first != second and a["jti"] != b["jti"] and len(a["jti"]) >= 16


@pytest.mark.parametrize("issued_as", PURPOSES)
@pytest.mark.parametrize("checked_as", PURPOSES)
def test_a_token_of_one_purpose_never_verifies_as_another(issued_as, checked_as):
    token, _ = CODEC.issue(issued_as, "usr_1", 60)
    if issued_as == checked_as:
        assert CODEC.verify(checked_as, token)["typ"] == issued_as
    else:
        with pytest.raises(TokenError):
            CODEC.verify(checked_as, token)


def test_typ_claim_is_checked_even_with_the_right_key():
    token = forge({"alg": "HS256", "kid": "k1"}, claims(typ=REFRESH), key(ACCESS))
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, token)
    assert CODEC.verify(ACCESS, forge({"alg": "HS256", "kid": "k1"}, claims(), key(ACCESS)))["sub"] == "usr_1"


def test_other_secret_is_rejected():
    token, _ = TokenCodec("another-secret-key-0123456789abcdef", "k1").issue(ACCESS, "usr_1", 60)
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, token)


def test_other_key_id_is_rejected_both_ways():
    token, _ = TokenCodec(SECRET, "k2").issue(ACCESS, "usr_1", 60)
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, token)
    token, _ = CODEC.issue(ACCESS, "usr_1", 60)
    with pytest.raises(TokenError):
        TokenCodec(SECRET, "k2").verify(ACCESS, token)


@pytest.mark.parametrize("header", [
    {"alg": "HS256"},  # no kid
    {"alg": "HS256", "kid": "k2"},  # unknown kid, even when signed with the k1 key
    {"alg": "HS256", "kid": ""},
    {"alg": "HS256", "kid": None},
    {"alg": "HS256", "kid": ["k1"]},
    {"alg": "HS256", "kid": 1},
    {"alg": "hs256", "kid": "k1"},
    {"kid": "k1"},
])
def test_bad_headers_are_rejected(header):
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, forge(header, claims(), key(ACCESS)))


def test_unknown_kid_signed_with_its_own_derived_key_is_rejected():
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, forge({"alg": "HS256", "kid": "k2"}, claims(), key(ACCESS, "k2")))


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # PyJWT wants longer keys for these algorithms
@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
def test_other_hmac_algorithms_are_rejected(alg, digest):
    token = forge({"alg": alg, "kid": "k1", "typ": "JWT"}, claims(), key(ACCESS), digest=digest)
    # A well-formed token of that algorithm, with the right key: only the algorithm is wrong.
    assert jwt.decode(token, key(ACCESS), algorithms=[alg])["sub"] == "usr_1"
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, token)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_rejected(alg):
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, forge({"alg": alg, "kid": "k1"}, claims()))
    with pytest.raises(TokenError):  # and with a signature part that is not empty
        CODEC.verify(ACCESS, forge({"alg": alg, "kid": "k1"}, claims()) + "c2ln")


def test_rs256_shaped_header_with_an_hmac_signature_is_rejected():
    # The classic confusion: an HMAC over the token claiming to be RS256.
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, forge({"alg": "RS256", "kid": "k1", "typ": "JWT"}, claims(), key(ACCESS)))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti", "typ"])
def test_every_required_claim_must_be_present(missing):
    token = forge({"alg": "HS256", "kid": "k1"}, claims(**{missing: None}), key(ACCESS))
    assert missing not in decode_part(token, 1)
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, token)


@pytest.mark.parametrize("changes", [
    {"sub": 123}, {"jti": 5}, {"exp": "soon"}, {"iat": "now"}, {"typ": [ACCESS]},
    {"iat": int(time.time()) + 3600},  # issued in the future
])
def test_malformed_claims_are_rejected(changes):
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, forge({"alg": "HS256", "kid": "k1"}, claims(**changes), key(ACCESS)))


def test_expired_tokens_are_rejected():
    token, _ = CODEC.issue(EMAIL_CONFIRM, "usr_1", -1)
    with pytest.raises(TokenError):
        CODEC.verify(EMAIL_CONFIRM, token)
    stale = forge({"alg": "HS256", "kid": "k1"}, claims(iat=int(time.time()) - 120, exp=int(time.time()) - 60),
                  key(ACCESS))
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, stale)


def test_tampered_signature_is_rejected():
    token, _ = CODEC.issue(ACCESS, "usr_1", 60)
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, tamper_signature(token))


def test_tampered_payload_is_rejected():
    token, issued = CODEC.issue(ACCESS, "usr_1", 60)
    head, _, signature = token.split(".")
    forged = f"{head}.{b64url_json({**issued, 'sub': 'usr_2'})}.{signature}"
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, forged)


@pytest.mark.parametrize("garbage", [
    "", "abc", "a.b", "a.b.c", "...", "Bearer x", "ü.ü.ü",
    b64url(b"[]") + "." + b64url_json(claims()) + ".sig",
    b64url_json({"alg": "HS256", "kid": "k1"}) + "." + b64url(b"[1]") + ".sig",
    b64url_json({"alg": "HS256", "kid": "k1"}) + "." + b64url(b"\xff\xfe") + ".sig",
])
def test_garbage_raises_token_error_only(garbage):
    with pytest.raises(TokenError):
        CODEC.verify(ACCESS, garbage)


def test_token_hash_is_sha256_hex():
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
    assert token_hash("abc") != token_hash("abd")


def test_claim_time_is_naive_utc():
    stamp = 1_700_000_000
    assert claim_time({"exp": stamp}, "exp") == dt.datetime(2023, 11, 14, 22, 13, 20)
    assert claim_time({"iat": float(stamp)}, "iat").tzinfo is None


def test_only_hs256_is_issued():
    assert ALGORITHM == "HS256"
    for purpose in PURPOSES:
        token, _ = CODEC.issue(purpose, "usr_1", 60)
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
