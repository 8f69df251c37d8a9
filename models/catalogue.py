"""What sellers sell: categories, products (soft-deleted) and their images.

Listing is keyset-paginated on `id` (ids sort by creation time), so every filter the listing
offers has a composite index ending in `id`. Full-text search on PostgreSQL uses a GIN index on
an expression that peewee cannot declare portably; `Product.create_table` adds it there, so a
schema built from these models and one built by the migrations are the same.
"""

from __future__ import annotations

import peewee as pw

from models.db import BaseModel
from models.identity import User

MAX_PRICE = 100_000_000_000  # minor units: 1 billion NGN; a sanity bound, well inside 2**53 for JSON clients
MAX_STOCK = 1_000_000_000

# The search document and its index. The listing query repeats SEARCH_DOCUMENT verbatim: PostgreSQL
# uses an expression index only for the identical expression. 'simple' = no stemming, no stop
# words: names are multilingual and brand-heavy, and it matches the SQLite fallback's semantics best.
SEARCH_DOCUMENT = "to_tsvector('simple', name || ' ' || description)"
SEARCH_INDEX = "products_search"
SEARCH_INDEX_SQL = f'CREATE INDEX IF NOT EXISTS "{SEARCH_INDEX}" ON "products" USING GIN ({SEARCH_DOCUMENT})'


class Category(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    name = pw.CharField(max_length=100, unique=True)
    slug = pw.CharField(max_length=100, unique=True)

    class Meta:
        table_name = "categories"


class Product(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    # FK columns are covered by the composite (column, id) indexes below.
    seller = pw.ForeignKeyField(User, backref="products", on_delete="RESTRICT", index=False)
    category = pw.ForeignKeyField(Category, null=True, backref="products", on_delete="SET NULL", index=False)
    name = pw.CharField(max_length=200)
    description = pw.TextField(default="")
    price = pw.BigIntegerField(constraints=[pw.Check("price > 0")])
    currency = pw.CharField(max_length=3, constraints=[pw.Check("length(currency) = 3")])
    stock = pw.IntegerField(default=0, constraints=[pw.Check("stock >= 0")])
    # Soft delete: gone from listings and from sale; purchases keep their own snapshot of it.
    deleted_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "products"
        indexes = (
            (("seller", "id"), False),
            (("category", "id"), False),
            (("price", "id"), False),
        )

    @classmethod
    def create_table(cls, safe: bool = True, **options: object) -> None:
        super().create_table(safe=safe, **options)
        database = cls._meta.database
        database = getattr(database, "obj", database)  # the DatabaseProxy, or a database bound directly
        if isinstance(database, pw.PostgresqlDatabase):
            database.execute_sql(SEARCH_INDEX_SQL)


class ProductImage(BaseModel):
    """One uploaded image. Its files are written before the row and deleted after it."""

    id = pw.CharField(primary_key=True, max_length=40)
    product = pw.ForeignKeyField(Product, backref="images", on_delete="CASCADE")
    file_name = pw.CharField(max_length=64)  # generated, under the storage kind "images"
    thumbnail_name = pw.CharField(max_length=64)  # generated, under the storage kind "thumbnails"
    content_type = pw.CharField(max_length=32)
    width = pw.IntegerField()
    height = pw.IntegerField()
    size_bytes = pw.IntegerField()

    class Meta:
        table_name = "product_images"
