"""The Mailgun sandbox over real HTTP: the v3 send API as Mailgun answers it, the inbox, faults, persistence."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.support.procs import free_port, running

KEY = "test-mailgun-key"
DOMAIN = "mg.test.localhost"
ENV = {"MAILGUN_API_KEY": KEY, "MAILGUN_DOMAIN": DOMAIN}
TIMEOUT = 5
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
BLOB = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB of every byte value, deterministic


def sandbox_args(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sandbox.mailgun", "--port", str(port), *extra]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("mailgun") / "sandbox.log"
    with running(sandbox_args(port), f"{url}/healthz", env=ENV, log_path=log):
        yield url


@pytest.fixture(autouse=True)
def clean(base_url: str) -> None:
    for path in ("/api/messages", "/api/faults", "/api/stats"):
        requests.delete(f"{base_url}{path}", timeout=TIMEOUT).raise_for_status()


def send(base_url: str, data: object, files: object = None, key: str = KEY, domain: str = DOMAIN,
         ) -> requests.Response:
    return requests.post(f"{base_url}/v3/{domain}/messages", auth=("api", key), data=data, files=files,
                         timeout=TIMEOUT)


def minimal(**extra: str) -> dict[str, str]:
    return {"from": "Shop <shop@example.com>", "to": "buyer@example.com", "subject": "Hi", "text": "Hello",
            **extra}


def listing(base_url: str, **params: str) -> list[dict]:
    response = requests.get(f"{base_url}/api/messages", params=params, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()["items"]


def test_urlencoded_send_is_queued_and_listed_with_every_field(base_url: str) -> None:
    data = [
        ("from", "Marketplace <no-reply@example.com>"),
        ("to", "buyer@example.com"),
        ("to", '"Doe, Jane" <jane@example.com>, carl@example.com'),
        ("cc", "cc@example.com"), ("bcc", "audit@example.com"),
        ("subject", "Your order ✓"), ("text", "Thanks!"), ("html", "<p>Thanks!</p>"),
        ("o:tag", "orders"), ("o:tag", "receipt"), ("o:tracking", "no"),
        ("v:order-id", "ord_42"), ("h:Reply-To", "help@example.com"),
        ("recipient-variables", '{"buyer@example.com": {"first": "Bo"}}'),
    ]
    response = send(base_url, data)

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Queued. Thank you."
    assert re.fullmatch(rf"<\d{{14}}\.[0-9a-f]+@{re.escape(DOMAIN)}>", body["id"])
    [item] = listing(base_url)
    assert item["id"] == body["id"]
    assert item["from"] == "Marketplace <no-reply@example.com>"
    assert item["to"] == ["buyer@example.com", '"Doe, Jane" <jane@example.com>', "carl@example.com"]
    assert (item["cc"], item["bcc"]) == (["cc@example.com"], ["audit@example.com"])
    assert (item["subject"], item["text"], item["html"]) == ("Your order ✓", "Thanks!", "<p>Thanks!</p>")
    assert item["tags"] == ["orders", "receipt"]
    assert item["variables"] == {"order-id": "ord_42"}
    assert item["headers"] == {"Reply-To": "help@example.com"}
    assert item["options"] == {"tracking": "no"}
    assert item["recipient_variables"] == {"buyer@example.com": {"first": "Bo"}}
    assert item["attachments"] == []
    assert datetime.fromisoformat(item["created_at"]).utcoffset().total_seconds() == 0


def test_one_message_by_id_with_or_without_angle_brackets(base_url: str) -> None:
    message_id = send(base_url, minimal()).json()["id"]

    for form in (message_id, message_id.strip("<>")):
        response = requests.get(f"{base_url}/api/messages/{quote(form, safe='')}", timeout=TIMEOUT)
        assert response.status_code == 200 and response.json()["id"] == message_id
    missing = requests.get(f"{base_url}/api/messages/{quote('<nope@x>', safe='')}", timeout=TIMEOUT)
    assert missing.status_code == 404 and "message" in missing.json()


def test_listing_is_newest_first_and_filters_by_recipient_and_tag(base_url: str) -> None:
    first = send(base_url, minimal(to="Ann <ann@example.com>", **{"o:tag": "welcome"})).json()["id"]
    second = send(base_url, minimal(to="bob@example.com", cc="ANN@example.com")).json()["id"]

    assert [m["id"] for m in listing(base_url)] == [second, first]
    assert [m["id"] for m in listing(base_url, to="Ann@Example.com")] == [second, first]
    assert [m["id"] for m in listing(base_url, to="bob@example.com")] == [second]
    assert [m["id"] for m in listing(base_url, tag="welcome")] == [first]
    assert listing(base_url, to="nobody@example.com") == []


def test_multipart_attachments_download_byte_identical(base_url: str) -> None:
    files = [
        ("attachment", ("receipt.pdf", PDF, "application/pdf")),
        ("attachment", ("blob.bin", BLOB, "application/octet-stream")),
    ]
    response = send(base_url, minimal(), files=files)

    assert response.status_code == 200
    [item] = listing(base_url)
    assert [a["filename"] for a in item["attachments"]] == ["receipt.pdf", "blob.bin"]
    for attachment, payload in zip(item["attachments"], (PDF, BLOB), strict=True):
        assert attachment["size"] == len(payload)
        assert attachment["sha256"] == hashlib.sha256(payload).hexdigest()
        download = requests.get(attachment["url"], timeout=TIMEOUT)
        assert download.status_code == 200
        assert download.content == payload
        assert hashlib.sha256(download.content).hexdigest() == attachment["sha256"]
        assert download.headers["Content-Type"] == attachment["content_type"]
        assert download.headers["Content-Disposition"] == f'attachment; filename="{attachment["filename"]}"'


def test_attachment_filename_is_sanitised_in_the_download_header(base_url: str) -> None:
    files = [("attachment", ('../évil"\r\nX-Injected: 1.txt', b"x", "text/plain"))]
    send(base_url, minimal(), files=files).raise_for_status()
    [attachment] = listing(base_url)[0]["attachments"]

    download = requests.get(attachment["url"], timeout=TIMEOUT)
    disposition = download.headers["Content-Disposition"]
    assert "X-Injected" not in download.headers
    fallback = re.match(r'attachment; filename="([^"]*)"', disposition)
    assert fallback and "/" not in fallback.group(1) and "\r" not in disposition
    missing = requests.get(attachment["url"].replace("/attachments/0", "/attachments/9"), timeout=TIMEOUT)
    assert missing.status_code == 404


@pytest.mark.parametrize("key", ["wrong-key", None])
def test_wrong_or_missing_key_is_forbidden(base_url: str, key: str | None) -> None:
    if key is None:
        response = requests.post(f"{base_url}/v3/{DOMAIN}/messages", data=minimal(), timeout=TIMEOUT)
    else:
        response = send(base_url, minimal(), key=key)

    assert response.status_code == 401
    assert response.text == "Forbidden"
    assert listing(base_url) == []


@pytest.mark.parametrize(("drop", "message"), [
    (("from",), "'from' parameter is missing"),
    (("to",), "'to' parameter is missing"),
    (("text", "html"), "Need at least one of 'text', 'html' or 'template' parameters specified"),
])
def test_missing_parameters_get_mailguns_messages(base_url: str, drop: tuple[str, ...], message: str) -> None:
    data = {k: v for k, v in minimal(html="<p>Hello</p>").items() if k not in drop}

    response = send(base_url, data)

    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_unknown_domain_is_not_found(base_url: str) -> None:
    response = send(base_url, minimal(), domain="other.example.com")

    assert response.status_code == 404
    assert response.json() == {"message": "Domain not found: other.example.com"}


@pytest.mark.parametrize("given", ["<order-42.confirm@shop.example>", "order-42.confirm@shop.example"])
def test_message_id_header_becomes_the_id(base_url: str, given: str) -> None:
    response = send(base_url, minimal(**{"h:Message-Id": given}))

    assert response.json()["id"] == "<order-42.confirm@shop.example>"
    assert listing(base_url)[0]["id"] == "<order-42.confirm@shop.example>"


def test_inbox_and_message_pages_render_and_escape(base_url: str) -> None:
    subject = "<script>alert('x')</script> Welcome aboard"
    html = '<p>Hi <a href="https://example.com/go">go</a></p><script>alert(1)</script>'
    message_id = send(base_url, minimal(subject=subject, html=html)).json()["id"]

    inbox = requests.get(f"{base_url}/", timeout=TIMEOUT)
    page = requests.get(f"{base_url}/messages/{quote(message_id, safe='')}", timeout=TIMEOUT)

    for response in (inbox, page):
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Welcome aboard" in response.text
        assert "&lt;script&gt;alert(" in response.text
        assert "<script>" not in response.text
    iframe = re.search(r"<iframe[^>]*>", page.text)
    assert iframe and 'sandbox="allow-popups' in iframe.group(0) and "allow-scripts" not in iframe.group(0)
    assert "&lt;a href=&#34;https://example.com/go&#34;&gt;" in iframe.group(0)
    assert requests.get(f"{base_url}/messages/nope", timeout=TIMEOUT).status_code == 404


def test_official_sdk_sends_with_attachments(base_url: str) -> None:
    from mailgun.client import Client

    data = {"from": "Shop <shop@example.com>", "to": ["sdk@example.com", "two@example.com"],
            "subject": "From the SDK", "text": "Hi", "o:tag": ["sdk"], "v:source": "sdk"}
    files = [("attachment", ("report.csv", b"a,b\n1,2\n", "text/csv")),
             ("attachment", ("blob.bin", BLOB, "application/octet-stream"))]
    with Client(auth=("api", KEY), api_url=f"{base_url}/") as client:
        response = client.messages.create(data=data, domain=DOMAIN, files=files)

    assert response.status_code == 200
    message_id = response.json()["id"]
    [item] = listing(base_url, to="sdk@example.com")
    assert item["id"] == message_id and item["to"] == ["sdk@example.com", "two@example.com"]
    assert (item["tags"], item["variables"]) == (["sdk"], {"source": "sdk"})
    blob = item["attachments"][1]
    assert requests.get(blob["url"], timeout=TIMEOUT).content == BLOB


def test_injected_503s_store_nothing_then_sends_succeed(base_url: str) -> None:
    armed = requests.post(f"{base_url}/api/faults", json={"status": 503, "count": 2}, timeout=TIMEOUT)
    assert armed.json()["status"] == 503 and armed.json()["count"] == 2

    outcomes = [send(base_url, minimal()) for _ in range(3)]

    assert [r.status_code for r in outcomes] == [503, 503, 200]
    assert all("message" in r.json() for r in outcomes)
    assert len(listing(base_url)) == 1
    stats = requests.get(f"{base_url}/api/stats", timeout=TIMEOUT).json()
    assert (stats["send_attempts"], stats["stored"]) == (3, 1)
    assert requests.get(f"{base_url}/api/faults", timeout=TIMEOUT).json()["status"] is None


def test_rate_limit_fault_and_latency(base_url: str) -> None:
    requests.post(f"{base_url}/api/faults", json={"status": 429, "count": 1, "retry_after": 2, "delay_ms": 200},
                  timeout=TIMEOUT).raise_for_status()

    started = time.monotonic()
    limited = send(base_url, minimal())
    elapsed = time.monotonic() - started

    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert elapsed >= 0.2
    assert send(base_url, minimal()).status_code == 200, "the delay stays, the 429 was used up"
    requests.delete(f"{base_url}/api/faults", timeout=TIMEOUT).raise_for_status()
    assert requests.get(f"{base_url}/api/faults", timeout=TIMEOUT).json()["delay_ms"] == 0


@pytest.mark.parametrize("spec", [{"status": 200}, {"status": 503, "count": -1}, {"bogus": 1}, [503]])
def test_nonsense_fault_settings_are_refused(base_url: str, spec: object) -> None:
    response = requests.post(f"{base_url}/api/faults", json=spec, timeout=TIMEOUT)

    assert response.status_code == 400 and "message" in response.json()


def test_oversized_body_is_refused(base_url: str) -> None:
    body = b"x" * (25 * 1024 * 1024 + 1)

    response = requests.post(f"{base_url}/v3/{DOMAIN}/messages", auth=("api", KEY), data=body, timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 413


def test_store_keeps_the_inbox_across_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "inbox.sqlite3"
    log = tmp_path / "sandbox.log"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(sandbox_args(port, "--store", str(store)), f"{url}/healthz", env=ENV, log_path=log) as proc:
        files = [("attachment", ("receipt.pdf", PDF, "application/pdf"))]
        message_id = send(url, minimal(subject="Kept"), files=files).json()["id"]
    assert proc.returncode == 0, "SIGTERM is a clean exit"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(sandbox_args(port, "--store", str(store)), f"{url}/healthz", env=ENV, log_path=log):
        [item] = listing(url)
        assert (item["id"], item["subject"]) == (message_id, "Kept")
        assert requests.get(item["attachments"][0]["url"], timeout=TIMEOUT).content == PDF
    assert "inbox at http://127.0.0.1:" in log.read_text()
    assert KEY not in log.read_text()
