"""The ledger (postings, entries, holds), transactions with order items, idempotency keys,
bank accounts, provider webhook events and operator alerts.

Frozen copies of the models as they were at this migration, deliberately independent of models/.
"""

import datetime

from peewee import (
    BigIntegerField,
    CharField,
    Check,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Base(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            legacy_table_names = False

    class User(Model):  # existing table, referenced only
        id = CharField(primary_key=True, max_length=40)

        class Meta:
            database = db
            table_name = "users"

    class Account(Model):  # existing table, referenced only
        id = CharField(primary_key=True, max_length=40)

        class Meta:
            database = db
            table_name = "accounts"

    class Posting(Base):
        id = CharField(primary_key=True, max_length=40)
        transaction_id = CharField(max_length=40)
        kind = CharField(max_length=40)
        description = CharField(max_length=255)

        class Meta:
            table_name = "postings"
            indexes = ((("transaction_id", "kind"), True),)

    class LedgerEntry(Base):
        id = CharField(primary_key=True, max_length=40)
        posting = ForeignKeyField(Posting, on_delete="RESTRICT")
        account = ForeignKeyField(Account, on_delete="RESTRICT")
        transaction_id = CharField(max_length=40)
        amount = BigIntegerField(constraints=[Check("amount <> 0")])
        balance_after = BigIntegerField()
        description = CharField(max_length=255)

        class Meta:
            table_name = "ledger_entries"
            indexes = ((("account", "id"), False),)

    class Hold(Base):
        id = CharField(primary_key=True, max_length=40)
        transaction_id = CharField(max_length=40, unique=True)
        account = ForeignKeyField(Account, on_delete="RESTRICT")
        amount = BigIntegerField(constraints=[Check("amount > 0")])
        status = CharField(max_length=16, default="pending")

        class Meta:
            table_name = "holds"
            constraints = [Check("status IN ('pending', 'captured', 'voided')")]

    class Transaction(Base):
        id = CharField(primary_key=True, max_length=40)
        kind = CharField(max_length=16)
        status = CharField(max_length=20, default="pending")
        user = ForeignKeyField(User, on_delete="RESTRICT")
        amount = BigIntegerField(constraints=[Check("amount > 0")])
        currency = CharField(max_length=3)
        reference = CharField(max_length=100, unique=True)
        failure_reason = CharField(max_length=40, null=True)
        authorization_url = CharField(max_length=500, null=True)
        access_code = CharField(max_length=100, null=True)
        fee = BigIntegerField(default=0, constraints=[Check("fee >= 0")])
        receipt_path = CharField(max_length=255, null=True)
        bank_account_id = CharField(max_length=40, null=True)
        transfer_code = CharField(max_length=100, null=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(null=True)
        flagged_reason = CharField(max_length=255, null=True)

        class Meta:
            table_name = "transactions"
            indexes = ((("user", "id"), False), (("status", "updated_at"), False))
            constraints = [
                Check("kind IN ('funding', 'purchase', 'withdrawal')"),
                Check("status IN ('pending', 'requires_action', 'processing', 'succeeded', 'failed', 'reversed')"),
            ]

    class OrderItem(Base):
        id = CharField(primary_key=True, max_length=40)
        transaction = ForeignKeyField(Transaction, on_delete="RESTRICT")
        product_id = CharField(max_length=40, index=True)
        seller = ForeignKeyField(User, on_delete="RESTRICT")
        name = CharField(max_length=200)
        unit_price = BigIntegerField(constraints=[Check("unit_price > 0")])
        quantity = IntegerField(constraints=[Check("quantity > 0")])
        fee = BigIntegerField(default=0, constraints=[Check("fee >= 0")])

        class Meta:
            table_name = "order_items"
            indexes = ((("seller", "transaction"), False),)

    class IdempotencyKey(Base):
        id = CharField(primary_key=True, max_length=40)
        user = ForeignKeyField(User, on_delete="CASCADE")
        key = CharField(max_length=255)
        request_hash = CharField(max_length=64)
        response_status = IntegerField(null=True)
        response_body = TextField(null=True)
        expires_at = DateTimeField(index=True)

        class Meta:
            table_name = "idempotency_keys"
            indexes = ((("user", "key"), True),)

    class BankAccount(Base):
        id = CharField(primary_key=True, max_length=40)
        user = ForeignKeyField(User, on_delete="RESTRICT")
        bank_code = CharField(max_length=20)
        bank_name = CharField(max_length=120)
        account_number = CharField(max_length=20)
        account_name = CharField(max_length=200)
        currency = CharField(max_length=3, default="NGN")
        recipient_code = CharField(max_length=100, null=True)

        class Meta:
            table_name = "bank_accounts"
            indexes = ((("user", "bank_code", "account_number"), True),)

    class WebhookEvent(Base):
        id = CharField(primary_key=True, max_length=40)
        digest = CharField(max_length=64, unique=True)
        event = CharField(max_length=64)
        reference = CharField(max_length=100, null=True, index=True)
        payload = TextField()
        processed_at = DateTimeField(null=True)

        class Meta:
            table_name = "webhook_events"

    class Alert(Base):
        id = CharField(primary_key=True, max_length=40)
        kind = CharField(max_length=40)
        transaction_id = CharField(max_length=40, null=True, index=True)
        detail = TextField()
        resolved_at = DateTimeField(null=True)

        class Meta:
            table_name = "alerts"
            indexes = ((("kind", "transaction_id"), True),)

    db.create_tables([Posting, LedgerEntry, Hold, Transaction, OrderItem, IdempotencyKey, BankAccount,
                      WebhookEvent, Alert])
