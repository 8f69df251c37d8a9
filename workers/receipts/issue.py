"""Issue the receipt of a settled purchase: number it, render it, store it, mail it. Idempotent."""

from __future__ import annotations

from config import Settings
from models.identity import User
from models.receipts import Receipt
from models.transactions import Transaction
from services import receipts
from services.jobs import Dispatcher
from services.money import format_amount
from workers.receipts.render import ReceiptData, ReceiptLine, render_pdf

MARKETPLACE = "Marketplace"


def issue(transaction_id: str, settings: Settings, dispatcher: Dispatcher) -> str:
    receipt = receipts.allocate(transaction_id)
    if receipt is None:
        return "not_receiptable"
    if receipt.path is not None:
        return "already_issued"
    pdf = render_pdf(receipt_data(receipt, settings.public_base_url))
    path = receipts.write_file(settings.media_root, receipt, pdf)
    return "issued" if receipts.store(receipt, path, pdf, settings.media_root, dispatcher) else "already_issued"


def receipt_data(receipt: Receipt, public_base_url: str) -> ReceiptData:
    """What the receipt shows, from the purchase as snapshotted (names and prices at the sale)."""
    txn = Transaction.get_by_id(receipt.transaction_id)
    buyer = User.get_by_id(txn.user_id)
    lines = receipts.items(txn.id)
    sellers = {u.id: u.full_name for u in User.select().where(User.id.in_([i.seller_id for i in lines]))}

    def money(amount: int) -> str:
        return format_amount(amount, txn.currency)

    return ReceiptData(
        marketplace=MARKETPLACE, number=receipts.receipt_number(receipt.number), issued_at=receipt.issued_at,
        buyer_name=buyer.full_name, buyer_email=buyer.email,
        seller_names=sorted({sellers[i.seller_id] for i in lines}),
        lines=[ReceiptLine(i.name, money(i.unit_price), i.quantity, money(i.unit_price * i.quantity)) for i in lines],
        fee=money(txn.fee) if txn.fee else None, total=money(txn.amount), currency=txn.currency,
        payment_method="Marketplace wallet", transaction_id=txn.id, reference=txn.reference,
        transaction_url=f"{public_base_url}/v1/transactions/{txn.id}")
