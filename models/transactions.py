"""Money intents (fund, purchase, withdraw), their state machine, and what hangs off them."""

from __future__ import annotations

import logging

import peewee as pw

from models.db import BaseModel, utcnow
from models.identity import User

log = logging.getLogger(__name__)

FUNDING, PURCHASE, WITHDRAWAL = "funding", "purchase", "withdrawal"
PENDING, REQUIRES_ACTION, PROCESSING = "pending", "requires_action", "processing"
SUCCEEDED, FAILED, REVERSED = "succeeded", "failed", "reversed"
FINAL = (SUCCEEDED, FAILED, REVERSED)

# The only moves a transaction's status may make, from -> allowed targets.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({REQUIRES_ACTION, PROCESSING, SUCCEEDED, FAILED}),
    REQUIRES_ACTION: frozenset({PROCESSING, SUCCEEDED, FAILED}),
    PROCESSING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset({REVERSED}),  # a paid-out withdrawal the bank sent back
    FAILED: frozenset(),
    REVERSED: frozenset(),
}


class Transaction(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    kind = pw.CharField(max_length=16)
    status = pw.CharField(max_length=20, default=PENDING)
    user = pw.ForeignKeyField(User, backref="transactions", on_delete="RESTRICT")
    amount = pw.BigIntegerField(constraints=[pw.Check("amount > 0")])
    currency = pw.CharField(max_length=3)
    reference = pw.CharField(max_length=100, unique=True)
    failure_reason = pw.CharField(max_length=40, null=True)
    # funding
    authorization_url = pw.CharField(max_length=500, null=True)
    access_code = pw.CharField(max_length=100, null=True)
    # purchase (an order; its lines are OrderItem rows)
    fee = pw.BigIntegerField(default=0, constraints=[pw.Check("fee >= 0")])
    receipt_path = pw.CharField(max_length=255, null=True)
    # withdrawal
    bank_account_id = pw.CharField(max_length=40, null=True)
    transfer_code = pw.CharField(max_length=100, null=True)
    # reconciliation and operators
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(null=True)
    flagged_reason = pw.CharField(max_length=255, null=True)

    class Meta:
        table_name = "transactions"
        indexes = (
            (("user", "id"), False),  # a user's list, newest first (ids sort by time)
            (("status", "updated_at"), False),  # the reconciler's scan of non-final work
        )
        constraints = [
            pw.Check("kind IN ('funding', 'purchase', 'withdrawal')"),
            pw.Check("status IN ('pending', 'requires_action', 'processing', 'succeeded', 'failed', 'reversed')"),
        ]


class OrderItem(BaseModel):
    """One line of a purchase, with the product's name and price as they were when bought."""

    id = pw.CharField(primary_key=True, max_length=40)
    transaction = pw.ForeignKeyField(Transaction, backref="items", on_delete="RESTRICT")
    product_id = pw.CharField(max_length=40, index=True)
    seller = pw.ForeignKeyField(User, backref="sales", on_delete="RESTRICT")
    name = pw.CharField(max_length=200)
    unit_price = pw.BigIntegerField(constraints=[pw.Check("unit_price > 0")])
    quantity = pw.IntegerField(constraints=[pw.Check("quantity > 0")])
    fee = pw.BigIntegerField(default=0, constraints=[pw.Check("fee >= 0")])

    class Meta:
        table_name = "order_items"
        indexes = ((("seller", "transaction"), False),)


def transition(transaction_id: str, source: str, target: str, **fields: object) -> bool:
    """Move a transaction from `source` to `target` if, and only if, it is still in `source`.

    False means someone else moved it first (do nothing), or the move is illegal (a bug: logged,
    never applied).
    """
    if target not in TRANSITIONS.get(source, frozenset()):
        log.error("illegal transition refused", extra={"transaction_id": transaction_id,
                                                       "from": source, "to": target})
        return False
    changed = (Transaction.update(status=target, updated_at=utcnow(), **fields)
               .where(Transaction.id == transaction_id, Transaction.status == source).execute())
    return changed == 1


class IdempotencyKey(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    key = pw.CharField(max_length=255)
    request_hash = pw.CharField(max_length=64)
    response_status = pw.IntegerField(null=True)  # null while the first request is in flight
    response_body = pw.TextField(null=True)
    expires_at = pw.DateTimeField(index=True)

    class Meta:
        table_name = "idempotency_keys"
        indexes = ((("user", "key"), True),)


class BankAccount(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    user = pw.ForeignKeyField(User, backref="bank_accounts", on_delete="RESTRICT")
    bank_code = pw.CharField(max_length=20)
    bank_name = pw.CharField(max_length=120)
    account_number = pw.CharField(max_length=20)
    account_name = pw.CharField(max_length=200)
    currency = pw.CharField(max_length=3, default="NGN")
    recipient_code = pw.CharField(max_length=100, null=True)

    class Meta:
        table_name = "bank_accounts"
        indexes = ((("user", "bank_code", "account_number"), True),)


class WebhookEvent(BaseModel):
    """A provider event as received (signature already checked), deduplicated by body digest."""

    id = pw.CharField(primary_key=True, max_length=40)
    digest = pw.CharField(max_length=64, unique=True)
    event = pw.CharField(max_length=64)
    reference = pw.CharField(max_length=100, null=True, index=True)
    payload = pw.TextField()
    processed_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "webhook_events"


class Alert(BaseModel):
    """Something an operator must look at (amount mismatch, OTP-gated transfer, stuck work)."""

    id = pw.CharField(primary_key=True, max_length=40)
    kind = pw.CharField(max_length=40)
    transaction_id = pw.CharField(max_length=40, null=True, index=True)
    detail = pw.TextField()
    resolved_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "alerts"
        indexes = ((("kind", "transaction_id"), True),)  # one open flag per reason and transaction
