"""POST /v1/auth/register, GET /v1/auth/confirm, POST /v1/auth/resend-confirmation."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import falcon.testing
import peewee as pw
import pytest

from api.app import create_app
from models import db
from models.accounts import Account
from models.identity import User
from services.passwords import verify_password
from services.tokens import ACCESS, EMAIL_CONFIRM, PASSWORD_RESET, REFRESH
from tests.support.identity import (
    PASSWORD,
    PROBLEM_JSON,
    assert_problem,
    codec,
    confirm,
    confirmation_token,
    count_users,
    decode_part,
    email_context,
    emails,
    register,
    register_and_confirm,
    request_reset,
    reset_token,
    tamper_signature,
    user_row,
    wallets,
)

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# --- register ----------------------------------------------------------------------------------

def test_register_creates_user_wallet_and_confirmation_email(client, stack):
    created = register(client, "  Ada.Lovelace@Example.COM ".strip(), full_name="  Ada Lovelace  ")
    assert created.status_code == 201
    user = created.json
    assert set(user) == {"id", "email", "full_name", "email_confirmed", "created_at"}
    assert user["email"] == "ada.lovelace@example.com"
    assert user["full_name"] == "Ada Lovelace"
    assert user["email_confirmed"] is False
    assert isinstance(user["id"], str) and user["id"]
    assert RFC3339_UTC.match(user["created_at"]), user["created_at"]
    created_at = dt.datetime.fromisoformat(user["created_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - created_at).total_seconds()) < 60

    row = user_row("ada.lovelace@example.com")
    assert row is not None and row.id == user["id"] and row.email_confirmed_at is None
    assert row.password_hash.startswith(f"$2b$0{stack.settings.bcrypt_rounds}$")
    assert PASSWORD not in row.password_hash
    assert verify_password(PASSWORD, row.password_hash)

    [wallet] = wallets()
    assert wallet.user_id == user["id"] and wallet.currency == "NGN"
    assert wallet.balance == 0 and wallet.held == 0

    [email] = emails()
    assert email.to_address == "ada.lovelace@example.com" and email.template == "confirm_email"
    assert email.tag == "confirmation" and email.status == "pending"
    context = email_context(email)
    assert context["confirm_url"].startswith(f"{stack.settings.public_base_url}/v1/auth/confirm?token=")
    assert context["expires_hours"] == 48
    claims = decode_part(confirmation_token(user["email"]), 1)
    assert claims["typ"] == EMAIL_CONFIRM and claims["sub"] == user["id"]
    assert claims["exp"] - claims["iat"] == 48 * 3600


@pytest.mark.parametrize("second", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"])
def test_email_taken_is_case_insensitive(client, stack, second):
    assert register(client, "ada@example.com").status_code == 201
    body = assert_problem(register(client, second, password="another password"), 409, "email_taken")
    assert "password" not in body.get("detail", "").lower()
    assert count_users() == 1 and len(wallets()) == 1 and len(emails()) == 1


def test_email_taken_for_non_ascii_case(client, stack):
    assert register(client, "Ünal.Ça@example.com").status_code == 201
    assert user_row("ünal.ça@example.com") is not None
    assert_problem(register(client, "üNAL.çA@EXAMPLE.com"), 409, "email_taken")
    assert count_users() == 1


def _raw_user(email: str) -> None:
    now = db.utcnow()
    with db.connection(), db.atomic():
        User.insert(id=db.new_id("usr"), email=email, full_name="Raw", password_hash="x",
                    password_changed_at=now).execute()


def test_database_refuses_mixed_case_and_case_duplicates(stack):
    with pytest.raises(pw.IntegrityError):
        _raw_user("Mixed@Example.com")
    assert count_users() == 0
    _raw_user("mixed@example.com")
    for duplicate in ("mixed@example.com", "MIXED@example.com", "mixed@EXAMPLE.COM"):
        with pytest.raises(pw.IntegrityError):
            _raw_user(duplicate)
    assert count_users() == 1


@pytest.mark.parametrize("round_", range(3))
def test_registration_race_has_one_winner(deps, stack, round_):
    """Two simultaneous registrations of one address: exactly one 201 and one 409, one user, one wallet."""
    app = create_app(deps)
    addresses = [f"race{round_}@example.com", f"RACE{round_}@Example.com"]
    barrier = threading.Barrier(len(addresses), timeout=10)

    def attempt(address: str) -> falcon.testing.Result:
        client = falcon.testing.TestClient(app)
        barrier.wait()
        return register(client, address)

    with ThreadPoolExecutor(len(addresses)) as pool:
        results = list(pool.map(attempt, addresses))

    assert sorted(result.status_code for result in results) == [201, 409], [r.text for r in results]
    loser = next(result for result in results if result.status_code == 409)
    assert_problem(loser, 409, "email_taken")
    assert count_users() == 1
    user = user_row(f"race{round_}@example.com")
    assert [wallet.user_id for wallet in wallets()] == [user.id]
    assert len(emails(template="confirm_email")) == 1


def test_wallet_is_created_in_the_users_transaction(client, stack, monkeypatch):
    def broken_create(cls, **fields):
        raise RuntimeError("wallet insert failed")

    monkeypatch.setattr(Account, "create", classmethod(broken_create))
    failed = register(client, "atomic@example.com")
    body = assert_problem(failed, 500, "internal_error")
    assert "wallet insert failed" not in failed.text and "Traceback" not in failed.text
    assert body["detail"]
    assert count_users() == 0 and emails() == [] and wallets() == []

    monkeypatch.undo()
    assert register(client, "atomic@example.com").status_code == 201
    assert count_users() == 1 and len(wallets()) == 1


def test_a_failing_wallet_insert_is_not_reported_as_email_taken(client, stack, monkeypatch):
    def conflicting_create(cls, **fields):
        raise pw.IntegrityError("simulated constraint failure on accounts")

    monkeypatch.setattr(Account, "create", classmethod(conflicting_create))
    assert_problem(register(client, "free@example.com"), 500, "internal_error")
    assert count_users() == 0 and emails() == []


def test_a_failing_email_insert_rolls_the_user_back(client, stack, monkeypatch):
    import services.identity

    def broken_queue(*args, **kwargs):
        raise RuntimeError("outbox insert failed")

    monkeypatch.setattr(services.identity, "queue_email", broken_queue)
    assert_problem(register(client, "outbox@example.com"), 500, "internal_error")
    assert count_users() == 0 and wallets() == [] and emails() == []


# --- confirm -----------------------------------------------------------------------------------

def test_confirm_json_then_twice_welcomes_once(client, stack):
    user = register(client, "ada@example.com").json
    token = confirmation_token("ada@example.com")

    first = confirm(client, token)
    assert first.status_code == 200 and first.json == {"email_confirmed": True}
    assert first.headers["content-type"].startswith("application/json")
    assert user_row("ada@example.com").email_confirmed_at is not None

    again = confirm(client, token)
    assert again.status_code == 200 and again.json == {"email_confirmed": True}
    assert confirm(client, token, accept=BROWSER_ACCEPT).status_code == 200

    [welcome] = emails(template="welcome")
    assert welcome.to_address == "ada@example.com" and email_context(welcome)["full_name"] == user["full_name"]


def test_confirm_without_accept_answers_json(client, stack):
    register(client, "ada@example.com")
    result = client.simulate_get("/v1/auth/confirm", params={"token": confirmation_token("ada@example.com")})
    assert result.status_code == 200 and result.json == {"email_confirmed": True}


def test_confirm_in_a_browser_renders_html(client, stack):
    register(client, "ada@example.com")
    page = confirm(client, confirmation_token("ada@example.com"), accept=BROWSER_ACCEPT)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "ada@example.com" in page.text and "confirmed" in page.text.lower()


def test_concurrent_confirmations_welcome_once(deps, stack):
    client = falcon.testing.TestClient(create_app(deps))
    register(client, "ada@example.com")
    token = confirmation_token("ada@example.com")
    barrier = threading.Barrier(3, timeout=10)

    def click(_: int) -> int:
        barrier.wait()
        return confirm(falcon.testing.TestClient(client.app), token).status_code

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(click, range(3))) == [200, 200, 200]
    assert len(emails(template="welcome")) == 1


def _bad_confirmation_tokens(stack, user_id: str, email: str) -> dict[str, str]:
    own = codec(stack.settings)
    good = confirmation_token(email)
    return {
        "garbage": "not-a-token",
        "expired": own.issue(EMAIL_CONFIRM, user_id, -10, email=email)[0],
        "other_secret": codec(stack.settings, secret_key="another-secret-key-" + "x" * 20)
        .issue(EMAIL_CONFIRM, user_id, 3600, email=email)[0],
        "other_kid": codec(stack.settings, key_id="k0").issue(EMAIL_CONFIRM, user_id, 3600, email=email)[0],
        "tampered": tamper_signature(good),
        "password_reset_token": own.issue(PASSWORD_RESET, user_id, 3600, email=email)[0],
        "access_token": own.issue(ACCESS, user_id, 3600, email=email)[0],
        "refresh_token": own.issue(REFRESH, user_id, 3600, email=email)[0],
        "unknown_user": own.issue(EMAIL_CONFIRM, "usr_nobody", 3600, email=email)[0],
        "other_email": own.issue(EMAIL_CONFIRM, user_id, 3600, email="mallory@example.com")[0],
        "no_email_claim": own.issue(EMAIL_CONFIRM, user_id, 3600)[0],
    }


def test_bad_confirmation_tokens_are_refused(client, stack):
    user = register(client, "ada@example.com").json
    for name, token in _bad_confirmation_tokens(stack, user["id"], "ada@example.com").items():
        body = assert_problem(confirm(client, token), 400, "invalid_token")
        assert token not in body.get("detail", ""), name
        page = confirm(client, token, accept=BROWSER_ACCEPT)
        assert page.status_code == 400, name
        assert page.headers["content-type"].startswith("text/html"), name
        assert "invalid_token" in page.text, name
    assert user_row("ada@example.com").email_confirmed_at is None
    assert emails(template="welcome") == []
    # The control: a token differing from those only in the point under test confirms.
    good = codec(stack.settings).issue(EMAIL_CONFIRM, user["id"], 60, email="ada@example.com")[0]
    assert confirm(client, good).json == {"email_confirmed": True}


def test_a_real_password_reset_token_does_not_confirm(client, stack):
    register(client, "ada@example.com")
    assert request_reset(client, "ada@example.com").status_code == 202
    assert_problem(confirm(client, reset_token("ada@example.com")), 400, "invalid_token")
    assert user_row("ada@example.com").email_confirmed_at is None


def test_confirm_without_token(client, stack):
    assert_problem(client.simulate_get("/v1/auth/confirm", headers={"Accept": "application/json"}),
                   400, "invalid_token")
    assert_problem(client.simulate_get("/v1/auth/confirm?token=", headers={"Accept": "application/json"}),
                   400, "invalid_token")
    for query in ("", "?token=", "?token=" + "x" * 5000):
        page = client.simulate_get("/v1/auth/confirm" + query, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 400 and "invalid_token" in page.text, query
        assert page.headers["content-type"].startswith("text/html")


def test_confirm_link_survives_added_tracking_parameters(client, stack):
    register(client, "ada@example.com")
    token = confirmation_token("ada@example.com")
    page = client.simulate_get(f"/v1/auth/confirm?token={token}&utm_source=email&utm_medium=link",
                               headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and "ada@example.com" in page.text


# --- resend ------------------------------------------------------------------------------------

def test_resend_is_202_for_everyone_and_mails_only_the_unconfirmed(client, stack):
    register(client, "pending@example.com")
    register_and_confirm(client, "done@example.com")
    before = {address: len(emails(to=address, template="confirm_email"))
              for address in ("pending@example.com", "done@example.com", "nobody@example.com")}
    assert before == {"pending@example.com": 1, "done@example.com": 1, "nobody@example.com": 0}

    answers = [client.simulate_post("/v1/auth/resend-confirmation", json={"email": address})
               for address in ("PENDING@example.com", "done@example.com", "nobody@example.com")]
    assert {answer.status_code for answer in answers} == {202}
    assert answers[0].json == answers[1].json == answers[2].json and answers[0].json["message"]

    assert len(emails(to="pending@example.com", template="confirm_email")) == 2
    assert len(emails(to="done@example.com", template="confirm_email")) == 1
    assert emails(to="nobody@example.com") == []
    # The new link works.
    assert confirm(client, confirmation_token("pending@example.com")).json == {"email_confirmed": True}


@pytest.mark.parametrize("address", ["pending@example.com", "nobody@example.com"])
def test_resend_is_rate_limited_per_address(client, stack, address):
    register(client, "pending@example.com")
    limit = stack.settings.email_requests_per_hour
    for _ in range(limit):
        assert client.simulate_post("/v1/auth/resend-confirmation", json={"email": address}).status_code == 202
    limited = client.simulate_post("/v1/auth/resend-confirmation", json={"email": address.upper()})
    assert_problem(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["retry-after"]) <= 3601
    sent = len(emails(to=address, template="confirm_email"))
    assert sent == (1 + limit if address.startswith("pending") else 0)
    # Another address, and the other kind of email request, are unaffected.
    assert client.simulate_post("/v1/auth/resend-confirmation", json={"email": "else@example.com"}
                                ).status_code == 202
    assert request_reset(client, address).status_code == 202


def test_problem_content_type_on_register_errors(client, stack):
    register(client, "ada@example.com")
    result = register(client, "ada@example.com")
    assert result.headers["content-type"] == PROBLEM_JSON
