"""Ledger accounts. A user's wallet is an account of kind `wallet`; system accounts
(provider clearing, payout clearing, platform fees) have no user."""

from __future__ import annotations

import peewee as pw

from models.db import BaseModel
from models.identity import User

WALLET = "wallet"
SYSTEM_KINDS = ("provider_clearing", "payout_clearing", "platform_fees")


class Account(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    kind = pw.CharField(max_length=32)
    user = pw.ForeignKeyField(User, null=True, backref="accounts", on_delete="RESTRICT")
    currency = pw.CharField(max_length=3)
    # Cached from the ledger entries, changed only in the same DB transaction as they are.
    balance = pw.BigIntegerField(default=0)
    held = pw.BigIntegerField(default=0, constraints=[pw.Check("held >= 0")])

    class Meta:
        table_name = "accounts"
        indexes = ((("user", "kind", "currency"), True),)
        constraints = [
            # A user's wallet never goes below zero nor holds more than it has; system
            # accounts are allowed to be negative (clearing accounts mirror money owed).
            pw.Check("kind <> 'wallet' OR (balance >= 0 AND held <= balance AND user_id IS NOT NULL)"),
            pw.Check("length(currency) = 3"),
        ]
