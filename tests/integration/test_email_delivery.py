"""The outbox: at most one send per row, retries while Mailgun is down, permanent 4xx recorded."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import requests

from models import db
from models.outbox import FAILED, PENDING, SENDING, SENT, Email
from services.jobs import unit_of_work
from services.outbox import queue_email
from tests.support import inbox
from tests.support.procs import NoJobs, wait_until
from workers.email.delivery import CLAIM_LEASE, DeliveryDeferred, deliver
from workers.email.mailgun import MailgunClient


def mailgun(stack, key: str | None = None) -> MailgunClient:
    s = stack.settings
    return MailgunClient(s.mailgun_api_base, s.mailgun_domain, key or s.mailgun_api_key, timeout=5)


def queue(deps, to: str = "buyer@example.com", **extra) -> Email:
    with unit_of_work(NoJobs()) as uow:
        return queue_email(uow, to=to, template="welcome", tag="welcome", context={"full_name": "Bo"}, **extra)


def send(stack, email_id: str, client: MailgunClient | None = None) -> str:
    return deliver(email_id, client or mailgun(stack), stack.settings.mail_from, stack.settings.media_root)


def test_running_twice_sends_once(stack, deps):
    email = queue(deps)
    assert send(stack, email.id) == SENT
    assert send(stack, email.id) == "skipped"
    row = Email.get_by_id(email.id)
    assert row.status == SENT and row.attempts == 1
    sent = inbox.messages(stack.mailgun_url, to="buyer@example.com")
    assert len(sent) == 1 and sent[0]["id"] == row.provider_message_id
    assert sent[0]["variables"] == {"email_id": email.id} and sent[0]["tags"] == ["welcome"]


def test_concurrent_runs_send_once(stack, deps):
    email = queue(deps)
    outcomes: list[str] = []

    def run() -> None:
        with db.connection():
            try:
                outcomes.append(send(stack, email.id))
            except DeliveryDeferred:
                outcomes.append("deferred")

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(SENT) == 1
    assert len(inbox.messages(stack.mailgun_url, to="buyer@example.com")) == 1


def test_provider_rejection_is_permanent_and_recorded(stack, deps):
    email = queue(deps)
    assert send(stack, email.id, mailgun(stack, key="wrong-key")) == FAILED
    row = Email.get_by_id(email.id)
    assert row.status == FAILED and "401" in row.last_error
    assert send(stack, email.id) == "skipped", "a failed email is not retried forever"
    assert inbox.messages(stack.mailgun_url, to="buyer@example.com") == []


def test_outage_defers_then_sends(stack, deps):
    email = queue(deps)
    requests.post(f"{stack.mailgun_url}/api/faults", json={"status": 503, "count": 1}, timeout=5)
    try:
        send(stack, email.id)
        raise AssertionError("a 503 must defer the delivery")
    except DeliveryDeferred:
        pass
    row = Email.get_by_id(email.id)
    assert row.status == PENDING and row.attempts == 1 and "503" in row.last_error
    assert send(stack, email.id) == SENT


def test_a_dead_workers_claim_is_taken_over_after_its_lease(stack, deps):
    email = queue(deps)
    stale = db.utcnow() - CLAIM_LEASE - dt.timedelta(seconds=1)
    Email.update(status=SENDING, claimed_at=stale).where(Email.id == email.id).execute()
    assert send(stack, email.id) == SENT
    fresh = queue(deps, to="other@example.com")
    Email.update(status=SENDING, claimed_at=db.utcnow()).where(Email.id == fresh.id).execute()
    try:
        send(stack, fresh.id)
        raise AssertionError("a live claim must defer, not send")
    except DeliveryDeferred:
        pass


def test_attachments_arrive_byte_identical(stack, deps):
    media = stack.settings.media_root
    (media / "receipts").mkdir(parents=True, exist_ok=True)
    payload = bytes(range(256)) * 40
    (media / "receipts" / "r-1.pdf").write_bytes(payload)
    email = queue(deps, attachments=[{"filename": "receipt-1.pdf", "path": "receipts/r-1.pdf",
                                      "content_type": "application/pdf"}])
    assert send(stack, email.id) == SENT
    [message] = inbox.messages(stack.mailgun_url, to="buyer@example.com")
    [attachment] = message["attachments"]
    assert attachment["filename"] == "receipt-1.pdf"
    assert attachment["sha256"] == hashlib.sha256(payload).hexdigest()
    assert requests.get(attachment["url"], timeout=5).content == payload


def test_mailgun_down_the_worker_retries_and_sends_once_back(client, stack, worker):
    """Through the real worker: three 503s, then Mailgun is back; exactly one email arrives."""
    requests.post(f"{stack.mailgun_url}/api/faults", json={"status": 503, "count": 3}, timeout=5)
    response = client.simulate_post("/v1/auth/register", json={
        "email": "retry@example.com", "password": "password123", "full_name": "Re Try"})
    assert response.status_code == 201
    message = inbox.wait_for_message(stack.mailgun_url, "retry@example.com", "confirmation", timeout=30)
    row = wait_until(lambda: Email.get_or_none(Email.to_address == "retry@example.com", Email.status == SENT))
    assert row.attempts == 4 and row.provider_message_id == message["id"]
    assert len(inbox.messages(stack.mailgun_url, to="retry@example.com")) == 1
