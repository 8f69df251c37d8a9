"""Users, refresh tokens, ledger accounts (wallets) and the email outbox.

Frozen copies of the models as they were at this migration, deliberately independent of models/.
"""

import datetime

from peewee import (
    BigIntegerField,
    BooleanField,
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

    class User(Base):
        id = CharField(primary_key=True, max_length=40)
        email = CharField(max_length=254, unique=True, constraints=[Check("email = lower(email)")])
        full_name = CharField(max_length=200)
        password_hash = CharField(max_length=100)
        email_confirmed_at = DateTimeField(null=True)
        password_changed_at = DateTimeField()
        is_admin = BooleanField(default=False)

        class Meta:
            table_name = "users"

    class RefreshToken(Base):
        id = CharField(primary_key=True, max_length=40)
        user = ForeignKeyField(User, on_delete="CASCADE")
        family_id = CharField(max_length=40, index=True)
        token_hash = CharField(max_length=64, unique=True)
        expires_at = DateTimeField()
        spent_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

        class Meta:
            table_name = "refresh_tokens"

    class Account(Base):
        id = CharField(primary_key=True, max_length=40)
        kind = CharField(max_length=32)
        user = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        currency = CharField(max_length=3)
        balance = BigIntegerField(default=0)
        held = BigIntegerField(default=0, constraints=[Check("held >= 0")])

        class Meta:
            table_name = "accounts"
            indexes = ((("user", "kind", "currency"), True),)
            constraints = [
                Check("kind <> 'wallet' OR (balance >= 0 AND held <= balance AND user_id IS NOT NULL)"),
                Check("length(currency) = 3"),
            ]

    class Email(Base):
        id = CharField(primary_key=True, max_length=40)
        to_address = CharField(max_length=254)
        template = CharField(max_length=64)
        context = TextField(default="{}")
        attachments = TextField(default="[]")
        tag = CharField(max_length=64)
        status = CharField(max_length=16, default="pending")
        attempts = IntegerField(default=0)
        claimed_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        provider_message_id = CharField(max_length=255, null=True)
        last_error = TextField(null=True)
        request_id = CharField(max_length=64, null=True)

        class Meta:
            table_name = "emails"
            indexes = ((("status", "updated_at"), False),)
            constraints = [Check("status IN ('pending', 'sending', 'sent', 'failed')")]

    db.create_tables([User, RefreshToken, Account, Email])
