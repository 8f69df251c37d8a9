"""peewee tables, the ledger, the transaction state machine, migrations.

Imports nothing else from the project.
"""

from models.accounts import Account
from models.catalogue import Category, Product, ProductImage
from models.db import BaseModel, database
from models.identity import RefreshToken, User
from models.outbox import Email

ALL_MODELS: list[type[BaseModel]] = [User, RefreshToken, Account, Email, Category, Product, ProductImage]

__all__ = [
    "ALL_MODELS",
    "Account",
    "BaseModel",
    "Category",
    "Email",
    "Product",
    "ProductImage",
    "RefreshToken",
    "User",
    "database",
]
