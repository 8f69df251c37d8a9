"""Products, categories, the public listing, stock, and product images.

Concurrency rules:
- Every write to a product is one conditional UPDATE (`WHERE id = ? AND seller_id = ? AND
  deleted_at IS NULL`); there is no read-then-write in Python, so an owner's PATCH of `stock` and
  a purchase's `stock = stock - q WHERE stock >= q` serialise on the row and never tear.
- Image files are written before their row and deleted after it: a crash leaves at worst a file
  without a row, which `sweep_media` removes.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import peewee as pw

from models import db
from models.catalogue import SEARCH_DOCUMENT, Category, Product, ProductImage
from models.identity import User
from services import errors, images, pagination
from services.storage import IMAGES, THUMBNAILS, Storage, generated_name, remove_quietly, sweep_strays

log = logging.getLogger(__name__)

EDITABLE = ("name", "description", "price", "currency", "stock", "category_id")
_ID = re.compile(r"^[a-z]{2,8}_[0-9a-z]{26}$")
_SEARCH_TERM = re.compile(r"[^\W_]+")  # letters and digits; no LIKE or tsquery syntax survives
MAX_SEARCH_TERMS, MAX_TERM_CHARS = 8, 64
SEARCH_WINDOW = 1000  # newest candidate rows a PostgreSQL search filters before it asks the GIN index
SWEEP_GRACE_SECONDS = 3600


# --- categories ----------------------------------------------------------------------------------

def list_categories() -> list[Category]:
    return list(Category.select().order_by(Category.name))


def create_category(name: str, slug: str | None = None) -> Category:
    """Operators only (manage.py). Idempotent by slug: the existing category is returned."""
    name = " ".join(name.split())
    slug = slugify(slug or name)
    if not name or not slug or len(name) > 100:
        raise ValueError("a category needs a name of 1-100 characters with at least one letter or digit")
    existing = Category.get_or_none(Category.slug == slug)
    if existing is not None:
        return existing
    return Category.create(id=db.new_id("cat"), name=name, slug=slug)


def slugify(text: str) -> str:
    return "-".join(_SEARCH_TERM.findall(text.lower().replace("&", " ")))[:100]


# --- products ------------------------------------------------------------------------------------

def create_product(seller: User, *, name: str, description: str, price: int, stock: int, currency: str,
                   category_id: str | None = None) -> Product:
    if seller.email_confirmed_at is None:
        raise errors.EmailNotConfirmed("Confirm your email address before selling.")
    _require_category(category_id)
    try:
        with db.atomic():
            return Product.create(id=db.new_id("prd"), seller=seller.id, category=category_id, name=name,
                                  description=description, price=price, stock=stock, currency=currency)
    except pw.IntegrityError:  # the foreign key: a category removed meanwhile
        raise errors.UnknownCategory("No category has this id.") from None


def get_product(product_id: str) -> Product:
    """A live product, for anyone to see."""
    product = Product.get_or_none(Product.id == _known_id(product_id), Product.deleted_at.is_null())
    if product is None:
        raise errors.NotFound("No product has this id.")
    return product


def owned_product(seller_id: str, product_id: str) -> Product:
    """A live product of this seller; someone else's answers exactly like a missing one."""
    product = Product.get_or_none(Product.id == _known_id(product_id), Product.seller == seller_id,
                                  Product.deleted_at.is_null())
    if product is None:
        raise errors.NotFound("No product has this id.")
    return product


def update_product(seller_id: str, product_id: str, changes: Mapping[str, Any]) -> Product:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if changes.get("category_id") is not None:
        _require_category(changes["category_id"])
    if not changes:
        return owned_product(seller_id, product_id)
    _known_id(product_id)
    values = {_column(field): value for field, value in changes.items()}
    values[Product.updated_at] = db.utcnow()
    try:
        with db.atomic():
            updated = (Product.update(values)
                       .where(Product.id == product_id, Product.seller == seller_id, Product.deleted_at.is_null())
                       .execute())
            if not updated:
                raise errors.NotFound("No product has this id.")
            return Product.get_by_id(product_id)
    except pw.IntegrityError:
        raise errors.UnknownCategory("No category has this id.") from None


def delete_product(seller_id: str, product_id: str, storage: Storage) -> None:
    """Soft delete: off the listings and off sale at once; its images (rows, then files) go too."""
    now = db.utcnow()
    _known_id(product_id)
    with db.atomic():
        deleted = (Product.update(deleted_at=now, updated_at=now)
                   .where(Product.id == product_id, Product.seller == seller_id, Product.deleted_at.is_null())
                   .execute())
        if not deleted:
            raise errors.NotFound("No product has this id.")
        gone = list(ProductImage.select().where(ProductImage.product == product_id))
        ProductImage.delete().where(ProductImage.product == product_id).execute()
    remove_quietly(storage, _files_of(gone))


def take_stock(product_id: str, quantity: int) -> bool:
    """For purchases, inside the caller's transaction: decrement if the product is live and has
    enough. False means out of stock or no longer for sale; nothing was changed. A purchase that
    fails later gives the stock back by rolling that transaction back."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    return bool(Product.update(stock=Product.stock - quantity, updated_at=db.utcnow())
                .where(Product.id == product_id, Product.deleted_at.is_null(), Product.stock >= quantity)
                .execute())


def is_id(value: str) -> bool:
    return bool(_ID.match(value))


def _is_product_id(value: str) -> bool:
    return value.startswith("prd_") and is_id(value)


def _known_id(value: str) -> str:
    """Ids from URLs are checked for shape before any query: anything else cannot exist (and a NUL
    character, which PostgreSQL refuses outright, never reaches the database)."""
    if not is_id(value):
        raise errors.NotFound("No such resource.")
    return value


def _column(field: str) -> pw.Field:
    return Product.category if field == "category_id" else getattr(Product, field)


def _require_category(category_id: str | None) -> None:
    if category_id is None:
        return
    if not is_id(category_id) or not Category.select().where(Category.id == category_id).exists():
        raise errors.UnknownCategory("No category has this id.")


# --- the public listing --------------------------------------------------------------------------

@dataclass(frozen=True)
class ProductFilters:
    q: str | None = None
    seller_id: str | None = None
    category_id: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool | None = None


@dataclass(frozen=True)
class Page:
    products: list[Product]
    next_cursor: str | None


def list_products(filters: ProductFilters, limit: int, cursor: str | None = None) -> Page:
    """Newest first, keyset-paginated on the time-sortable id (services.pagination): a page is
    `id < cursor`, so inserts made while a client pages (all newer) neither shift nor repeat items."""
    if cursor is not None and not _is_product_id(pagination.decode_cursor(cursor)):
        # Stricter than the shared decoder: only a product id can be a product cursor.
        raise pagination.InvalidCursor("The cursor is not one this API issued.")
    terms = search_terms(filters.q or "")
    if terms and not db.is_sqlite():
        return _postgres_search(filters, terms, limit, cursor)
    query = Product.select().where(Product.deleted_at.is_null(), *_conditions(filters))
    rows, next_cursor = pagination.newest_first(query, Product.id, limit, cursor)
    return Page(products=list(rows), next_cursor=next_cursor)


def _postgres_search(filters: ProductFilters, terms: list[str], limit: int, cursor: str | None) -> Page:
    """Newest matches first, fast whether the words are common or rare.

    PostgreSQL cannot estimate how many rows a `word:*` prefix matches (it assumes 2%), so left
    to itself it walks the id index newest-first, filtering each row: ~1 ms for a common word,
    but the whole table (~0.5 s at 100k rows) for a rare one. Instead, two bounded steps:
    1. filter only the newest `window` candidate rows; if they hold a full page, those are the
       newest matches (every match outside the window is older) -- the common-word case;
    2. otherwise the word is rare (under a page per window), so fetching all its matches from
       the GIN index and sorting them is cheap. `OFFSET 0` stops the planner from merging the
       subquery back into an id-ordered scan."""
    base = Product.select().where(Product.deleted_at.is_null(), *_conditions(filters, search=False))
    if cursor is not None:
        base = base.where(Product.id < pagination.decode_cursor(cursor))
    window = max(SEARCH_WINDOW, 10 * (limit + 1))
    recent = base.order_by(Product.id.desc()).limit(window)
    rows = _select_from(recent, f"WHERE {SEARCH_DOCUMENT} @@ to_tsquery('simple', %s)", _tsquery(terms), limit + 1)
    if len(rows) <= limit:
        rows = _select_from(base.where(_search(terms)).offset(0), "", limit + 1)
    page = rows[:limit]
    return Page(products=page, next_cursor=pagination.encode_cursor(page[-1].id) if len(rows) > limit else None)


def _select_from(inner: pw.ModelSelect, where: str, *params: object) -> list[Product]:
    """Products from a subquery, newest first: `SELECT * FROM (inner) <where> ORDER BY id DESC LIMIT n`."""
    inner_sql, inner_params = inner.sql()
    # Only our own SQL text is composed here; every value travels as a parameter.
    sql = f"SELECT * FROM ({inner_sql}) AS candidates {where} ORDER BY id DESC LIMIT %s"  # noqa: S608
    return list(Product.raw(sql, *inner_params, *params))


def _conditions(filters: ProductFilters, search: bool = True) -> list[pw.Expression]:
    conditions: list[Any] = []
    if filters.seller_id is not None:
        conditions.append(Product.seller == filters.seller_id)
    if filters.category_id is not None:
        conditions.append(Product.category == filters.category_id)
    if filters.min_price is not None:
        conditions.append(Product.price >= filters.min_price)
    if filters.max_price is not None:
        conditions.append(Product.price <= filters.max_price)
    if filters.in_stock is not None:
        conditions.append(Product.stock > 0 if filters.in_stock else Product.stock == 0)
    terms = search_terms(filters.q or "") if search else []
    if terms:
        conditions.append(_search(terms))
    return conditions


def search_terms(q: str) -> list[str]:
    """The words of a query: letters and digits, lower-cased, each matched as a word prefix."""
    return [term[:MAX_TERM_CHARS] for term in _SEARCH_TERM.findall(q.lower())[:MAX_SEARCH_TERMS]]


def _search(terms: list[str]) -> pw.Expression:
    if db.is_sqlite():
        # Portable fallback: every term somewhere in the name or description (a scan, but one that
        # walks the id index newest-first and stops at a page). Case-insensitive for ASCII.
        clauses = [(Product.name ** f"%{term}%") | (Product.description ** f"%{term}%") for term in terms]
        return functools.reduce(operator.and_, clauses)
    # PostgreSQL: the GIN expression index.
    return pw.SQL(f"{SEARCH_DOCUMENT} @@ to_tsquery('simple', %s)", [_tsquery(terms)])


def _tsquery(terms: list[str]) -> str:
    """Every word, each as a prefix (`red:* & cot:*`). Terms are letters and digits only, so no
    tsquery syntax can be smuggled in (and the text is a bound parameter anyway)."""
    return " & ".join(f"{term}:*" for term in terms)


def images_of(products: Iterable[Product]) -> dict[str, list[ProductImage]]:
    """Images of many products in one query (upload order), to render a page without N+1."""
    ids = [product.id for product in products]
    found: dict[str, list[ProductImage]] = {product_id: [] for product_id in ids}
    if ids:
        query = ProductImage.select().where(ProductImage.product.in_(ids)).order_by(ProductImage.id)
        for image in query:
            found[image.product_id].append(image)
    return found


# --- images --------------------------------------------------------------------------------------

def check_image_capacity(product_id: str, max_images: int) -> None:
    """Early, cheap refusal before an upload is even read; add_image checks again under a lock."""
    if ProductImage.select().where(ProductImage.product == product_id).count() >= max_images:
        raise errors.TooManyImages(f"A product may have at most {max_images} images.")


def add_image(seller_id: str, product_id: str, upload: BinaryIO, storage: Storage,
              limits: images.ImageLimits, max_images: int) -> ProductImage:
    processed = images.process(upload, limits)  # slow: outside any transaction
    image_id = db.new_id("img")
    file_name = generated_name(image_id, processed.extension)
    files = [(IMAGES, file_name), (THUMBNAILS, file_name)]
    try:
        for kind, name in files:  # files first: a crash after this leaves only strays for the sweep
            storage.save(kind, name, processed.thumbnail.data if kind == THUMBNAILS else processed.image.data)
        with db.atomic():
            _lock_owned(seller_id, product_id)  # serialises concurrent uploads: the count below holds
            check_image_capacity(product_id, max_images)
            return ProductImage.create(
                id=image_id, product=product_id, file_name=file_name, thumbnail_name=file_name,
                content_type=processed.content_type, width=processed.image.width,
                height=processed.image.height, size_bytes=len(processed.image.data))
    except BaseException:
        remove_quietly(storage, files)
        raise


def delete_image(seller_id: str, product_id: str, image_id: str, storage: Storage) -> None:
    _known_id(product_id)
    _known_id(image_id)
    with db.atomic():
        image = (ProductImage.select().join(Product)
                 .where(ProductImage.id == image_id, ProductImage.product == product_id,
                        Product.seller == seller_id, Product.deleted_at.is_null())
                 .first())
        if image is None:
            raise errors.NotFound("No image has this id.")
        image.delete_instance()
    remove_quietly(storage, _files_of([image]))  # rows first, then files: never a row without its file


def _lock_owned(seller_id: str, product_id: str) -> Product:
    query = Product.select().where(Product.id == product_id, Product.seller == seller_id,
                                   Product.deleted_at.is_null())
    if not db.is_sqlite():  # SQLite's write transaction (BEGIN IMMEDIATE) already excludes other writers
        query = query.for_update()
    product = query.first()
    if product is None:
        raise errors.NotFound("No product has this id.")
    return product


def _files_of(rows: Iterable[ProductImage]) -> list[tuple[str, str]]:
    return [(kind, name) for row in rows for kind, name in ((IMAGES, row.file_name), (THUMBNAILS, row.thumbnail_name))]


@dataclass(frozen=True)
class SweepReport:
    stray_files: int
    rows_without_files: int


def sweep_media(storage: Storage, grace_seconds: int = SWEEP_GRACE_SECONDS) -> SweepReport:
    """Make files and rows agree again after a crash. Rows are read before files are listed: a
    row's files always exist before the row does, so a file missing from the listing really is
    missing; files younger than the grace period may belong to an upload still in progress."""
    rows = list(ProductImage.select(ProductImage.id, ProductImage.file_name, ProductImage.thumbnail_name))
    known = {IMAGES: {row.file_name for row in rows}, THUMBNAILS: {row.thumbnail_name for row in rows}}
    present = {kind: {stored.name for stored in storage.list(kind)} for kind in (IMAGES, THUMBNAILS)}
    broken = [row.id for row in rows
              if row.file_name not in present[IMAGES] or row.thumbnail_name not in present[THUMBNAILS]]
    if broken:
        log.warning("image rows without files removed", extra={"count": len(broken)})
        with db.atomic():
            orphans = list(ProductImage.select().where(ProductImage.id.in_(broken)))
            ProductImage.delete().where(ProductImage.id.in_(broken)).execute()
        remove_quietly(storage, _files_of(orphans))  # the half that may still exist
    strays = sweep_strays(storage, known, older_than=time.time() - grace_seconds)
    return SweepReport(stray_files=strays, rows_without_files=len(broken))
