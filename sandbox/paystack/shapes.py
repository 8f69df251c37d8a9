"""Turn stored documents into Paystack's response shapes (field names and types per the OpenAPI doc).

Where the document types a field differently on two operations (verify vs list), each shape follows
its own operation's schema: e.g. `metadata` is "" on verify when empty but null in lists.
"""

from __future__ import annotations

from typing import Any

from sandbox.paystack.store import Document

DOMAIN = "test"

_EMPTY_AUTHORIZATION = dict.fromkeys((
    "authorization_code", "bin", "last4", "exp_month", "exp_year", "channel", "card_type", "bank",
    "country_code", "brand", "signature", "account_name",
)) | {"reusable": False}


def customer(doc: Document) -> dict[str, Any]:
    return {
        "id": doc["id"], "first_name": doc.get("first_name"), "last_name": doc.get("last_name"),
        "email": doc["email"], "customer_code": doc["customer_code"], "phone": doc.get("phone"),
        "metadata": None, "risk_action": "default", "international_format_phone": None,
    }


def _transaction_common(tx: Document, cust: Document, amount_delta: int) -> dict[str, Any]:
    return {
        "id": tx["id"], "domain": DOMAIN, "status": tx["status"], "reference": tx["reference"],
        "amount": tx["amount"] + amount_delta, "message": None, "gateway_response": tx["gateway_response"],
        "helpdesk_link": None,
        "paid_at": tx["paid_at"], "created_at": tx["created_at"], "channel": tx["channel"],
        "currency": tx["currency"], "ip_address": tx["ip_address"], "log": tx["log"], "fees": tx["fees"],
        "fees_split": None, "customer": customer(cust), "split": {}, "subaccount": {}, "order_id": None,
        "paidAt": tx["paid_at"], "createdAt": tx["created_at"], "requested_amount": tx["amount"],
        "pos_transaction_data": None, "source": None, "connect": None,
    }


def transaction_verify(tx: Document, cust: Document, amount_delta: int = 0) -> dict[str, Any]:
    """The `data` of GET /transaction/verify/:reference, of GET /transaction/:id and of charge.* events."""
    return _transaction_common(tx, cust, amount_delta) | {
        "receipt_number": None,
        "metadata": tx["metadata"] if tx["metadata"] is not None else "",
        "authorization": _verify_authorization(tx["authorization"]),
        "plan": None, "fees_breakdown": None, "transaction_date": tx["created_at"], "plan_object": {},
    }


def _verify_authorization(auth: dict[str, Any] | None) -> dict[str, Any]:
    if auth is None:
        return {}  # what Paystack answers before a card was used
    return auth | {"receiver_bank_account_number": None, "receiver_bank": None}


def transaction_list_item(tx: Document, cust: Document) -> dict[str, Any]:
    return _transaction_common(tx, cust, 0) | {
        "metadata": tx["metadata"],
        "authorization": tx["authorization"] or dict(_EMPTY_AUTHORIZATION),
        "plan": {},
    }


def recipient(doc: Document, integration: int) -> dict[str, Any]:
    return {
        "active": True, "createdAt": doc["created_at"], "currency": doc["currency"],
        "description": doc["description"], "domain": DOMAIN, "email": doc["email"], "id": doc["id"],
        "integration": integration, "metadata": doc["metadata"], "name": doc["name"],
        "recipient_code": doc["recipient_code"], "type": doc["type"], "updatedAt": doc["updated_at"],
        "is_deleted": False, "isDeleted": False,
        "details": {
            "authorization_code": None, "account_number": doc["account_number"],
            "account_name": doc["account_name"], "bank_code": doc["bank_code"], "bank_name": doc["bank_name"],
        },
    }


def _transfer_common(doc: Document, integration: int) -> dict[str, Any]:
    return {
        "amount": doc["amount"], "currency": doc["currency"], "domain": DOMAIN, "failures": None,
        "id": doc["id"], "integration": integration, "reason": doc["reason"], "reference": doc["reference"],
        "source": doc["source"], "source_details": None, "status": doc["status"], "titan_code": None,
        "transfer_code": doc["transfer_code"], "request": doc["request"], "transferred_at": doc["transferred_at"],
        "createdAt": doc["created_at"], "updatedAt": doc["updated_at"],
    }


def transfer_created(doc: Document, rcp: Document, integration: int) -> dict[str, Any]:
    """The `data` of POST /transfer: the recipient is its numeric id there."""
    return _transfer_common(doc, integration) | {
        "transfersessionid": [], "transfertrials": [], "recipient": rcp["id"], "session": doc["session"],
    }


def transfer(doc: Document, rcp: Document, integration: int) -> dict[str, Any]:
    """The `data` of transfer verify/fetch, of list items and of transfer.* events."""
    return _transfer_common(doc, integration) | {
        "recipient": recipient(rcp, integration), "session": doc["session"], "fee_charged": doc["fee"],
        "fees_breakdown": None, "gateway_response": doc["gateway_response"],
    }
