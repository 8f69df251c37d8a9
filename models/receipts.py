"""Purchase receipts and the gapless counter that numbers them."""

from __future__ import annotations

import peewee as pw

from models.db import BaseModel
from models.transactions import Transaction

RECEIPT_COUNTER = "receipt"


class Counter(BaseModel):
    """A named sequence advanced by one conditional UPDATE ... RETURNING, inside the transaction
    that uses the number: a rollback returns it, so numbers have no gaps and no duplicates."""

    name = pw.CharField(primary_key=True, max_length=40)
    value = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "counters"


class Receipt(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    transaction = pw.ForeignKeyField(Transaction, unique=True, backref="receipts", on_delete="RESTRICT")
    number = pw.BigIntegerField(unique=True)
    issued_at = pw.DateTimeField()
    # Set once, when the rendered PDF is in place; never changed after (a receipt is immutable).
    path = pw.CharField(max_length=255, null=True)
    sha256 = pw.CharField(max_length=64, null=True)
    size_bytes = pw.IntegerField(null=True)

    class Meta:
        table_name = "receipts"


def next_value(name: str) -> int:
    """Advance a counter; call inside the transaction that consumes the number."""
    Counter.insert(name=name, value=0).on_conflict_ignore().execute()
    rows = list(Counter.update(value=Counter.value + 1).where(Counter.name == name)
                .returning(Counter.value).execute())
    return int(rows[0].value)
