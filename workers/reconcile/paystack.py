"""The Paystack client seen as services.reconcile.provider.Provider: list and verify per subject."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from models.transactions import FUNDING
from services.reconcile.provider import iso
from workers.payments.paystack import PaystackClient, PaystackNotFound


@dataclass(frozen=True)
class PaystackProvider:
    client: PaystackClient

    def page(self, subject: str, start: dt.datetime, end: dt.datetime, page: int,
             per_page: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        lister = self.client.list_transactions if subject == FUNDING else self.client.list_transfers
        return lister(perPage=per_page, page=page, **{"from": iso(start), "to": iso(end)})

    def lookup(self, subject: str, reference: str) -> dict[str, Any] | None:
        verify = self.client.verify_transaction if subject == FUNDING else self.client.verify_transfer
        try:
            return verify(reference)
        except PaystackNotFound:
            return None
