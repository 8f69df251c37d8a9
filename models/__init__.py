"""peewee tables, the ledger, the transaction state machine, migrations.

Imports nothing else from the project.
"""

from models.accounts import Account
from models.catalogue import Category, Product, ProductImage
from models.db import BaseModel, database
from models.identity import RefreshToken, User
from models.ledger import Hold, LedgerEntry, Posting
from models.outbox import Email
from models.receipts import Counter, Receipt
from models.reconcile import AuditCheckpoint, Discrepancy, ReconcileRun
from models.transactions import Alert, BankAccount, IdempotencyKey, OrderItem, Transaction, WebhookEvent

ALL_MODELS: list[type[BaseModel]] = [
    User, RefreshToken, Account, Email, Category, Product, ProductImage,
    Posting, LedgerEntry, Hold, Transaction, OrderItem, IdempotencyKey, BankAccount, WebhookEvent, Alert,
    Counter, Receipt,
    AuditCheckpoint, Discrepancy, ReconcileRun,
]

__all__ = [
    "ALL_MODELS",
    "Account",
    "Alert",
    "AuditCheckpoint",
    "BankAccount",
    "BaseModel",
    "Category",
    "Counter",
    "Discrepancy",
    "Email",
    "Hold",
    "IdempotencyKey",
    "LedgerEntry",
    "OrderItem",
    "Posting",
    "Product",
    "ProductImage",
    "Receipt",
    "ReconcileRun",
    "RefreshToken",
    "Transaction",
    "User",
    "WebhookEvent",
    "database",
]
