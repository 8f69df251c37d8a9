"""Register → confirmation email (delivered by a real worker to the Mailgun sandbox) → click →
welcome email once → login → me."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.support import inbox
from tests.support.procs import wait_until

PASSWORD = "correct horse battery"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signup_confirm_welcome_login(client, stack, worker):
    created = client.simulate_post("/v1/auth/register", json={
        "email": "Ada@Example.COM", "password": PASSWORD, "full_name": "Ada Lovelace"})
    assert created.status_code == 201
    assert created.json["email"] == "ada@example.com"
    assert created.json["email_confirmed"] is False

    message = inbox.wait_for_message(stack.mailgun_url, "ada@example.com", "confirmation")
    assert message["subject"] == "Confirm your email address"
    link = inbox.link(message, "/v1/auth/confirm?token=")
    assert link.startswith(stack.settings.public_base_url + "/v1/auth/confirm?token=")
    assert client.simulate_post("/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
                                ).json["code"] == "email_not_confirmed"

    page = client.simulate_get(path_of(link), headers={"Accept": "text/html"})
    assert page.status_code == 200 and "confirmed" in page.text
    again = client.simulate_get(path_of(link), headers={"Accept": "application/json"})
    assert again.status_code == 200 and again.json == {"email_confirmed": True}

    inbox.wait_for_message(stack.mailgun_url, "ada@example.com", "welcome")
    wait_until(lambda: len(inbox.messages(stack.mailgun_url, to="ada@example.com")) >= 2)
    welcomes = inbox.messages(stack.mailgun_url, to="ada@example.com", tag="welcome")
    assert len(welcomes) == 1, "confirming twice welcomes once"

    login = client.simulate_post("/v1/auth/login", json={"email": "ADA@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json["token_type"] == "Bearer" and login.json["expires_in"] == 900
    me = client.simulate_get("/v1/me", headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert me.status_code == 200
    assert me.json["email_confirmed"] is True and me.json["id"] == created.json["id"]
