"""Receipts: numbered without gaps, rendered once, downloadable by buyer and seller only, mailed
with the PDF attached (byte-identical to the download), and robust to crashes mid-way."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pypdf
import pytest
import requests

from models import db
from models.identity import User
from models.outbox import Email
from models.receipts import Receipt
from services import receipts
from services.settlement import settle_purchase
from tests.support import inbox
from tests.support import ledger_fixtures as lf
from tests.support.identity import bearer, signed_in
from tests.support.money import signed_in_user
from tests.support.procs import NoJobs, wait_until
from workers.receipts.issue import issue


def settled_purchase(buyer, item, quantity: int = 1) -> str:
    txn = lf.purchase_intent(buyer, item, quantity)
    assert settle_purchase(txn.id, NoJobs()) == "succeeded"
    return txn.id


def test_buyer_downloads_the_receipt_and_gets_it_by_email(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    seller = signed_in_user(web, "seller@example.com", deps)
    lf.credit(User.get(User.email == "buyer@example.com").id, 500_000)
    product = seller.post("/v1/products", {"name": "Brass <Kettle> & Co", "description": "x", "price": 123_456,
                                           "stock": 5}, key="").json()
    intent = buyer.post("/v1/purchases", {"product_id": product["id"], "quantity": 2}).json()
    assert intent["receipt_url"] is None
    done = buyer.wait_status(intent["id"], "succeeded")
    url = f"/v1/transactions/{intent['id']}/receipt"
    wait_until(lambda: buyer.get(url).status_code == 200, timeout=30, message="the receipt")
    assert buyer.get(f"/v1/transactions/{done['id']}").json()["receipt_url"].endswith(url)

    pdf = buyer.get(url)
    assert pdf.headers["content-type"] == "application/pdf"
    number = Receipt.get(Receipt.transaction == intent["id"]).number
    assert pdf.headers["content-disposition"] == f'attachment; filename="receipt-MKT-{number:06d}.pdf"'
    assert buyer.get(url, headers={"If-None-Match": pdf.headers["etag"]}).status_code == 304
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for expected in ("Brass <Kettle> & Co", "₦2,469.12", "₦1,234.56", f"MKT-{number:06d}", intent["reference"]):
        assert expected in text, expected
    metadata = pypdf.PdfReader(io.BytesIO(pdf.content)).metadata
    assert metadata.title == f"Receipt MKT-{number:06d}" and metadata.author and metadata.creation_date

    assert seller.get(url).status_code == 200, "the seller may download the receipt of their sale"
    stranger = signed_in_user(web, "stranger@example.com", deps)
    assert stranger.get(url).status_code == 404

    message = inbox.wait_for_message(stack.mailgun_url, "buyer@example.com", "purchase", timeout=30)
    [attachment] = message["attachments"]
    assert attachment["filename"] == f"receipt-MKT-{number:06d}.pdf"
    assert requests.get(attachment["url"], timeout=10).content == pdf.content
    assert attachment["sha256"] == hashlib.sha256(pdf.content).hexdigest()


def test_not_ready_until_rendered(client, stack):
    seller = lf.user("seller@example.com")
    _, tokens = signed_in(client, "buyer@example.com")
    buyer = User.get(User.email == "buyer@example.com")
    lf.credit(buyer.id, 10_000)
    txn_id = settled_purchase(buyer, lf.product(seller, 1_000, 3))
    response = client.simulate_get(f"/v1/transactions/{txn_id}/receipt", headers=bearer(tokens["access_token"]))
    assert response.status_code == 404 and response.json["code"] == "receipt_not_ready"


def test_concurrent_receipts_get_consecutive_numbers(stack):
    seller = lf.user("seller@example.com")
    item = lf.product(seller, 1_000, 100)
    buyers = [lf.funded_user(f"b{i}@example.com", 10_000) for i in range(12)]
    txn_ids = [settled_purchase(buyer, item) for buyer in buyers]

    def run(txn_id: str) -> None:
        with db.connection():
            issue(txn_id, stack.settings, NoJobs())

    threads = [threading.Thread(target=run, args=(t,)) for t in txn_ids + txn_ids]  # each one twice
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(r.number for r in Receipt.select())
    assert numbers == list(range(numbers[0], numbers[0] + 12)), "no gaps, no duplicates"
    assert Email.select().where(Email.template == "purchase_receipt").count() == 12, "one email per receipt"
    files = sorted(p.name for p in (stack.settings.media_root / "receipts").iterdir())
    assert files == sorted(os.path.basename(r.path) for r in Receipt.select()), "losers removed their files"


def test_issuing_twice_changes_nothing(stack):
    buyer, seller = lf.funded_user("buyer@example.com", 10_000), lf.user("seller@example.com")
    txn_id = settled_purchase(buyer, lf.product(seller, 2_500, 3))
    assert issue(txn_id, stack.settings, NoJobs()) == "issued"
    first = Receipt.get(Receipt.transaction == txn_id)
    stored = (stack.settings.media_root / first.path).read_bytes()
    assert issue(txn_id, stack.settings, NoJobs()) == "already_issued"
    again = Receipt.get(Receipt.transaction == txn_id)
    assert (again.number, again.path, again.sha256) == (first.number, first.path, first.sha256)
    assert (stack.settings.media_root / again.path).read_bytes() == stored, "an issued receipt is immutable"


def test_a_crash_before_the_rename_leaves_no_receipt_file_and_the_next_run_completes(stack, monkeypatch):
    buyer, seller = lf.funded_user("buyer@example.com", 10_000), lf.user("seller@example.com")
    txn_id = settled_purchase(buyer, lf.product(seller, 2_500, 3))

    def crash(*args, **kwargs):
        raise SystemExit("killed mid-write")

    monkeypatch.setattr(receipts.os, "replace", crash)
    with pytest.raises(SystemExit):
        issue(txn_id, stack.settings, NoJobs())
    monkeypatch.undo()
    directory = stack.settings.media_root / "receipts"
    assert [p.suffix for p in directory.iterdir()] == [".tmp"], "only a temp file, never a half-written receipt"
    numbered = Receipt.get(Receipt.transaction == txn_id)
    assert numbered.path is None

    assert issue(txn_id, stack.settings, NoJobs()) == "issued"
    assert Receipt.get(Receipt.transaction == txn_id).number == numbered.number, "the number survives the crash"
    leftovers = [p.name for p in directory.iterdir() if p.suffix == ".tmp"]
    assert receipts.sweep_strays(stack.settings.media_root, older_than_seconds=0) == leftovers
    assert [p.suffix for p in directory.iterdir()] == [".pdf"], "the sweep keeps only the issued receipt"


def test_unsettled_or_other_transactions_get_no_receipt(stack):
    buyer, seller = lf.user("buyer@example.com"), lf.user("seller@example.com")
    txn = lf.purchase_intent(buyer, lf.product(seller, 2_500, 3))
    assert issue(txn.id, stack.settings, NoJobs()) == "not_receiptable"
    assert settle_purchase(txn.id, NoJobs()) == "failed"  # no money
    assert issue(txn.id, stack.settings, NoJobs()) == "not_receiptable"
    assert Receipt.select().count() == 0
