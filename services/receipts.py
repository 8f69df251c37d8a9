"""Receipts: numbered in one short transaction, rendered outside it, stored once.

1. allocate(): the next gapless number and the receipt row, committed together (or not at all).
2. the caller renders the PDF and writes it to a temp file, then renames it into place.
3. store(): records the file on the receipt exactly once and queues the buyer's email with the
   PDF attached, in the same transaction. A run that loses the race deletes its own file.
A crash anywhere leaves either nothing, or a numbered receipt still waiting for its file, which
the next run (or the reconciler) completes with the same number.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import peewee as pw

from models import db
from models.identity import User
from models.receipts import RECEIPT_COUNTER, Receipt, next_value
from models.transactions import PURCHASE, SUCCEEDED, OrderItem, Transaction
from services.jobs import Dispatcher, unit_of_work
from services.money import format_amount
from services.outbox import queue_email

RECEIPTS_DIR = "receipts"
PDF = "application/pdf"


def receipt_number(number: int) -> str:
    return f"MKT-{number:06d}"


def allocate(transaction_id: str) -> Receipt | None:
    """The receipt of a settled purchase, numbering it if it has none yet. None if not receiptable."""
    txn = Transaction.get_or_none(Transaction.id == transaction_id)
    if txn is None or txn.kind != PURCHASE or txn.status != SUCCEEDED:
        return None
    existing = Receipt.get_or_none(Receipt.transaction == transaction_id)
    if existing is not None:
        return existing
    try:
        with db.atomic():
            return Receipt.create(id=db.new_id("rct"), transaction=transaction_id,
                                  number=next_value(RECEIPT_COUNTER), issued_at=db.utcnow())
    except pw.IntegrityError:  # a concurrent run numbered it; its number stands, ours rolled back
        return Receipt.get(Receipt.transaction == transaction_id)


def write_file(media_root: Path, receipt: Receipt, pdf: bytes) -> str:
    """Write the PDF under a name of its own (temp file, fsync, rename); returns the relative path."""
    directory = media_root / RECEIPTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    relative = f"{RECEIPTS_DIR}/{receipt_number(receipt.number)}-{secrets.token_hex(6)}.pdf"
    temporary = media_root / f"{relative}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(pdf)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, media_root / relative)
    return relative


def store(receipt: Receipt, relative_path: str, pdf: bytes, media_root: Path, dispatcher: Dispatcher) -> bool:
    """Record the file and queue the purchase email, once. False if another run already did."""
    with unit_of_work(dispatcher) as uow:
        claimed = (Receipt.update(path=relative_path, sha256=hashlib.sha256(pdf).hexdigest(), size_bytes=len(pdf),
                                  updated_at=db.utcnow())
                   .where(Receipt.id == receipt.id, Receipt.path.is_null()).execute())
        if not claimed:
            (media_root / relative_path).unlink(missing_ok=True)
            return False
        txn = Transaction.get_by_id(receipt.transaction_id)
        Transaction.update(receipt_path=relative_path, updated_at=db.utcnow()).where(Transaction.id == txn.id).execute()
        buyer = User.get_by_id(txn.user_id)
        queue_email(uow, to=buyer.email, template="purchase_receipt", tag="purchase", context={
            "full_name": buyer.full_name, "number": receipt_number(receipt.number), "reference": txn.reference,
            "transaction_id": txn.id, "total": format_amount(txn.amount, txn.currency),
            "items": [{"name": i.name, "quantity": i.quantity} for i in items(txn.id)],
        }, attachments=[{"filename": f"receipt-{receipt_number(receipt.number)}.pdf", "path": relative_path,
                         "content_type": PDF}])
        return True


def items(transaction_id: str) -> list[OrderItem]:
    return list(OrderItem.select().where(OrderItem.transaction == transaction_id).order_by(OrderItem.id))


@dataclass(frozen=True)
class StoredReceipt:
    path: Path
    filename: str
    etag: str


def stored(transaction_id: str, media_root: Path) -> StoredReceipt | None:
    receipt = Receipt.get_or_none(Receipt.transaction == transaction_id)
    if receipt is None or receipt.path is None or not (media_root / receipt.path).is_file():
        return None
    return StoredReceipt(media_root / receipt.path, f"receipt-{receipt_number(receipt.number)}.pdf",
                         f'"{receipt.sha256}"')


def sweep_strays(media_root: Path, older_than_seconds: float = 3600) -> list[str]:
    """Delete receipt files no receipt row points at (a crash between rename and store, or a lost
    race) and abandoned temp files, once they are old enough not to belong to a run in progress."""
    directory = media_root / RECEIPTS_DIR
    if not directory.is_dir():
        return []
    referenced = {Path(p).name for (p,) in Receipt.select(Receipt.path).where(Receipt.path.is_null(False)).tuples()}
    cutoff = time.time() - older_than_seconds
    removed = []
    for path in directory.iterdir():
        if path.name not in referenced and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed
