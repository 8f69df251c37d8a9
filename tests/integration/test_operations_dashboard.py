"""/ops/: admins only, over HTTP Basic (browsers) or an admin's bearer token (tools)."""

from __future__ import annotations

import base64

from models.identity import User
from tests.support import ledger_fixtures as lf
from tests.support.identity import PASSWORD, bearer, signed_in


def basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def make_admin(email: str) -> None:
    User.update(is_admin=True).where(User.email == email).execute()


def test_strangers_are_asked_to_sign_in(client):
    response = client.simulate_get("/ops")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    assert client.simulate_get("/ops", headers={"Authorization": "Basic !!!"}).status_code == 401


def test_non_admins_do_not_see_it(client):
    _, tokens = signed_in(client, "user@example.com")
    assert client.simulate_get("/ops", headers=bearer(tokens["access_token"])).status_code == 404
    assert client.simulate_get("/ops", headers=basic("user@example.com", PASSWORD)).status_code == 404


def test_wrong_password_is_refused_and_throttled(client):
    signed_in(client, "admin@example.com")
    make_admin("admin@example.com")
    for _ in range(5):
        assert client.simulate_get("/ops", headers=basic("admin@example.com", "wrong")).status_code == 401
    locked = client.simulate_get("/ops", headers=basic("admin@example.com", PASSWORD))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


def test_admins_see_queues_money_and_alerts(client):
    _, tokens = signed_in(client, "admin@example.com")
    make_admin("admin@example.com")
    buyer, seller = lf.funded_user("b@example.com", 5_000), lf.user("s@example.com")
    lf.purchase_intent(buyer, lf.product(seller, 1_000, 1))  # pending: shows as money in flight

    page = client.simulate_get("/ops", headers={**basic("admin@example.com", PASSWORD), "Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for section in ("Queues", "Money not yet final", "Alerts", "Reconciliation runs", "payments"):
        assert section in page.text
    data = client.simulate_get("/ops", headers={**bearer(tokens["access_token"]), "Accept": "application/json"}).json
    assert {q["queue"] for q in data["queues"]} == {"email", "payments", "receipts", "reconcile"}
    assert data["open_transactions"][0]["kind"] == "purchase" and data["open_transactions"][0]["count"] == 1
