"""Catalogue: categories (with a default set), products, product images; on PostgreSQL, the GIN
index the product search uses.

Frozen copies of the models as they were at this migration, deliberately independent of models/.
"""

import datetime
import secrets
import time

from peewee import (
    BigIntegerField,
    CharField,
    Check,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    TextField,
)

# Operators add more with `python manage.py create-category NAME`.
DEFAULT_CATEGORIES = [
    ("Electronics", "electronics"),
    ("Fashion", "fashion"),
    ("Home & Garden", "home-garden"),
    ("Beauty & Health", "beauty-health"),
    ("Groceries", "groceries"),
    ("Books", "books"),
    ("Sports & Outdoors", "sports-outdoors"),
    ("Toys & Games", "toys-games"),
    ("Automotive", "automotive"),
    ("Arts & Crafts", "arts-crafts"),
]
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _new_id(prefix):
    millis = time.time_ns() // 1_000_000
    stamp = ""
    for _ in range(10):
        millis, digit = divmod(millis, 32)
        stamp = _CROCKFORD[digit] + stamp
    return f"{prefix}_{stamp}{''.join(secrets.choice(_CROCKFORD) for _ in range(16))}"


def _utcnow():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def up(migrator, db):
    class Base(Model):
        created_at = DateTimeField(default=_utcnow)
        updated_at = DateTimeField(default=_utcnow)

        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):  # only what the foreign key needs
        id = CharField(primary_key=True, max_length=40)

        class Meta:
            table_name = "users"

    class Category(Base):
        id = CharField(primary_key=True, max_length=40)
        name = CharField(max_length=100, unique=True)
        slug = CharField(max_length=100, unique=True)

        class Meta:
            table_name = "categories"

    class Product(Base):
        id = CharField(primary_key=True, max_length=40)
        seller = ForeignKeyField(User, on_delete="RESTRICT", index=False)
        category = ForeignKeyField(Category, null=True, on_delete="SET NULL", index=False)
        name = CharField(max_length=200)
        description = TextField(default="")
        price = BigIntegerField(constraints=[Check("price > 0")])
        currency = CharField(max_length=3, constraints=[Check("length(currency) = 3")])
        stock = IntegerField(default=0, constraints=[Check("stock >= 0")])
        deleted_at = DateTimeField(null=True)

        class Meta:
            table_name = "products"
            indexes = (
                (("seller", "id"), False),
                (("category", "id"), False),
                (("price", "id"), False),
            )

    class ProductImage(Base):
        id = CharField(primary_key=True, max_length=40)
        product = ForeignKeyField(Product, on_delete="CASCADE")
        file_name = CharField(max_length=64)
        thumbnail_name = CharField(max_length=64)
        content_type = CharField(max_length=32)
        width = IntegerField()
        height = IntegerField()
        size_bytes = IntegerField()

        class Meta:
            table_name = "product_images"

    db.create_tables([Category, Product, ProductImage])
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "CREATE INDEX IF NOT EXISTS \"products_search\" ON \"products\" "
            "USING GIN (to_tsvector('simple', name || ' ' || description))"
        )
    now = _utcnow()
    Category.insert_many(
        [{"id": _new_id("cat"), "name": name, "slug": slug, "created_at": now, "updated_at": now}
         for name, slug in DEFAULT_CATEGORIES]
    ).execute()
