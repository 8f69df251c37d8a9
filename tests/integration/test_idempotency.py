"""Idempotency-Key on the POSTs that move money: replay, reuse, in flight, missing, concurrent."""

from __future__ import annotations

import threading
from collections import Counter

from models.transactions import IdempotencyKey, Transaction
from tests.support.identity import bearer, signed_in


def token_for(client, email: str) -> str:
    return signed_in(client, email)[1]["access_token"]


def post(client, token: str, body: dict, key: str | None, path: str = "/v1/fundings"):
    headers = bearer(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.simulate_post(path, json=body, headers=headers)


def test_same_key_same_body_replays_the_first_response(client):
    token = token_for(client, "payer@example.com")
    first = post(client, token, {"amount": 50_000}, "k-1")
    assert first.status_code == 202 and first.json["status"] == "pending"
    again = post(client, token, {"amount": 50_000}, "k-1")
    assert again.status_code == 202 and again.json == first.json
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert Transaction.select().count() == 1


def test_same_key_other_body_is_refused(client):
    token = token_for(client, "payer@example.com")
    post(client, token, {"amount": 50_000}, "k-1")
    other = post(client, token, {"amount": 60_000}, "k-1")
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
    assert Transaction.select().count() == 1


def test_keys_are_scoped_to_the_user(client):
    alice = token_for(client, "alice@example.com")
    bob = token_for(client, "bob@example.com")
    assert post(client, alice, {"amount": 1_000}, "shared").status_code == 202
    assert post(client, bob, {"amount": 1_000}, "shared").status_code == 202
    assert Transaction.select().count() == 2


def test_missing_or_oversized_key(client):
    token = token_for(client, "payer@example.com")
    for key in (None, "", "x" * 256):
        response = post(client, token, {"amount": 1_000}, key)
        assert response.status_code == 400 and response.json["code"] == "idempotency_key_required", key
    assert Transaction.select().count() == 0


def test_a_key_in_flight_answers_409(client):
    token = token_for(client, "payer@example.com")
    user_id = client.simulate_get("/v1/me", headers=bearer(token)).json["id"]
    from models import db
    from services import idempotency

    claim = idempotency.claim(user_id, "busy", idempotency.fingerprint("POST", "/v1/fundings", {
        "amount": 1_000, "currency": "NGN"}))
    assert isinstance(claim, idempotency.Claim)
    busy = post(client, token, {"amount": 1_000}, "busy")
    assert busy.status_code == 409 and busy.json["code"] == "idempotency_key_in_use"
    with db.atomic():
        claim.complete(202, {"id": "stored"})
    assert post(client, token, {"amount": 1_000}, "busy").json == {"id": "stored"}


def test_refusals_replay_too(client):
    token = token_for(client, "payer@example.com")
    missing = {"amount": 1_000, "bank_account_id": "bnk_nope"}
    first = post(client, token, missing, "w-1", path="/v1/withdrawals")
    assert first.status_code == 404 and first.json["code"] == "not_found"
    again = post(client, token, missing, "w-1", path="/v1/withdrawals")
    assert again.status_code == 404 and again.json == first.json
    assert again.headers["idempotent-replayed"] == "true"


def test_concurrent_identical_requests_create_one_transaction(client):
    token = token_for(client, "payer@example.com")
    statuses: list[int] = []

    def fire() -> None:
        statuses.append(post(client, token, {"amount": 7_000}, "race").status_code)

    threads = [threading.Thread(target=fire) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(statuses)
    assert counts[202] >= 1 and set(counts) <= {202, 409}, counts
    assert Transaction.select().count() == 1
    assert IdempotencyKey.select().count() == 1


def test_invalid_bodies_change_nothing(client):
    token = token_for(client, "payer@example.com")
    for body in ({"amount": 0}, {"amount": -5}, {"amount": 10.5}, {"amount": "100"}, {"amount": 100, "x": 1},
                 {"amount": 100, "currency": "XXX"}, {}):
        response = post(client, token, body, "bad")
        assert response.status_code == 422 and response.json["code"] == "validation_error", body
    assert Transaction.select().count() == 0 and IdempotencyKey.select().count() == 0


def test_transaction_etag_and_filtered_list(client):
    token = token_for(client, "payer@example.com")
    funding = post(client, token, {"amount": 1_000}, "a").json
    post(client, token, {"amount": 2_000}, "b")
    one = client.simulate_get(f"/v1/transactions/{funding['id']}", headers=bearer(token))
    assert one.status_code == 200 and one.headers["etag"]
    same = client.simulate_get(f"/v1/transactions/{funding['id']}",
                               headers={**bearer(token), "If-None-Match": one.headers["etag"]})
    assert same.status_code == 304 and not same.content
    listed = client.simulate_get("/v1/transactions", params={"kind": "funding", "limit": 1}, headers=bearer(token))
    assert [t["amount"] for t in listed.json["data"]] == [2_000], "newest first"
    rest = client.simulate_get("/v1/transactions", params={"kind": "funding", "cursor": listed.json["next_cursor"]},
                               headers=bearer(token))
    assert [t["amount"] for t in rest.json["data"]] == [1_000] and rest.json["next_cursor"] is None
    assert client.simulate_get("/v1/transactions", params={"kind": "purchase"}, headers=bearer(token)).json == {
        "data": [], "next_cursor": None}
    other = token_for(client, "other@example.com")
    assert client.simulate_get(f"/v1/transactions/{funding['id']}", headers=bearer(other)).status_code == 404
