"""Receipts of purchases and the counters that number them.

Frozen copies of the models as they were at this migration, deliberately independent of models/.
"""

import datetime

from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class Base(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            legacy_table_names = False

    class Transaction(Model):  # existing table, referenced only
        id = CharField(primary_key=True, max_length=40)

        class Meta:
            database = db
            table_name = "transactions"

    class Counter(Base):
        name = CharField(primary_key=True, max_length=40)
        value = BigIntegerField(default=0)

        class Meta:
            table_name = "counters"

    class Receipt(Base):
        id = CharField(primary_key=True, max_length=40)
        transaction = ForeignKeyField(Transaction, unique=True, on_delete="RESTRICT")
        number = BigIntegerField(unique=True)
        issued_at = DateTimeField()
        path = CharField(max_length=255, null=True)
        sha256 = CharField(max_length=64, null=True)
        size_bytes = IntegerField(null=True)

        class Meta:
            table_name = "receipts"

    db.create_tables([Counter, Receipt])
