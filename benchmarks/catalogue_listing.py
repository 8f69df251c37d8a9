"""Catalogue listing at 100,000 products: does each query stay proportional to a page, not the table?

Fills a fresh database with products in bulk, times the listing queries the API runs
(services.catalogue.list_products plus the one images query a page needs) first on a small
catalogue (the baseline, 1,000 products) and then on the full one, and prints each query's median
time at both sizes and the ratio. A ratio near 1 means the query does not grow with the table; a
primary-key lookup is printed as an absolute reference point.

Run it (from the project root):

    .venv/bin/python benchmarks/catalogue_listing.py                     # SQLite, a temporary file
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/catalogue_listing.py

With a PostgreSQL URL it creates a private database on that server and drops it at the end.
Options: --products N (100000), --baseline N (1000), --repeat N (25), --explain (print query plans).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import db
from models.catalogue import Category, Product
from models.identity import User
from models.migrate import apply_all
from services import catalogue
from services.pagination import encode_cursor
from tests.support.databases import fresh_database

COLOURS = (
    "red", "blue", "green", "black", "white", "yellow", "orange", "purple", "brown", "grey", "pink", "gold",
    "silver", "navy",
)
MATERIALS = (
    "cotton", "leather", "silk", "wool", "denim", "linen", "plastic", "steel", "wooden", "ceramic", "glass",
    "bamboo",
)
ITEMS = (
    "shirt", "dress", "bag", "shoe", "sandal", "lamp", "chair", "table", "phone", "case", "charger", "kettle",
    "blender", "mug", "bowl", "backpack", "watch", "necklace", "bracelet", "scarf", "cap", "jacket", "blanket",
    "pillow", "rug", "mirror",
)
WORDS = (
    "handmade", "durable", "lightweight", "original", "imported", "local", "premium", "classic", "modern",
    "vintage", "soft", "waterproof", "portable", "compact", "elegant", "sturdy", "washable", "adjustable",
    "stylish", "affordable",
)
RARE_WORD = "zephyr"  # in 1 of every 10,000 descriptions
SELLERS, BATCH = 50, 1000


def make_sellers(count: int) -> list[str]:
    now = db.utcnow()
    rows = [{"id": db.new_id("usr"), "email": f"seller{i}@bench.invalid", "full_name": f"Seller {i}",
             "password_hash": "x", "password_changed_at": now, "email_confirmed_at": now} for i in range(count)]
    with db.atomic():
        User.insert_many(rows).execute()
    return [row["id"] for row in rows]


def fill(count: int, sellers: list[str], categories: list[str], rng: random.Random, start: int) -> None:
    """Insert `count` products in bulk, oldest first (ids are time-sortable)."""
    for offset in range(0, count, BATCH):
        now = db.utcnow()
        rows = [_product(start + offset + i, sellers, categories, rng, now) for i in range(min(BATCH, count - offset))]
        with db.atomic():
            Product.insert_many(rows).execute()


def _product(n: int, sellers: list[str], categories: list[str], rng: random.Random, now: object) -> dict:
    words = rng.sample(WORDS, 6) + ([RARE_WORD] if n % 10_000 == 5_000 else [])
    return {
        "id": db.new_id("prd"), "seller": rng.choice(sellers),
        "category": rng.choice(categories) if rng.random() < 0.9 else None,
        "name": f"{rng.choice(COLOURS).title()} {rng.choice(MATERIALS)} {rng.choice(ITEMS)} {n}",
        "description": " ".join(words), "price": rng.randint(100, 10_000_000),
        "currency": "NGN", "stock": 0 if rng.random() < 0.3 else rng.randint(1, 50),
        "created_at": now, "updated_at": now,
    }


def queries(sellers: list[str], categories: list[str]) -> dict[str, Callable[[], object]]:
    """The listings to time, by name. The deep page starts 90% of the way down the catalogue."""
    F = catalogue.ProductFilters

    def page(filters: catalogue.ProductFilters, cursor: str | None = None) -> Callable[[], object]:
        def run() -> object:
            found = catalogue.list_products(filters, 20, cursor)
            return catalogue.images_of(found.products)  # a page always needs its images too
        return run

    total = Product.select().count()
    deep_id = Product.select(Product.id).order_by(Product.id.desc()).offset(int(total * 0.9)).limit(1).scalar()
    some_id = Product.select(Product.id).order_by(Product.id).offset(total // 2).limit(1).scalar()
    return {
        "primary-key lookup (reference)": lambda: Product.get_by_id(some_id),
        "first page": page(F()),
        "seller's products": page(F(seller_id=sellers[7])),
        "category+in stock+price range": page(F(category_id=categories[3], in_stock=True, min_price=1_000_000,
                                                max_price=2_000_000)),
        "search, very common word": page(F(q="handmade")),
        "search, common word": page(F(q="cotton")),
        "search, two words": page(F(q="leather bag")),
        f"search, rare word ({RARE_WORD})": page(F(q=RARE_WORD)),
        "deep cursor page (90%)": page(F(), encode_cursor(deep_id)),
    }


def measure(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median wall time per query in milliseconds (after two warm-up runs)."""
    timings = {}
    for name, run in runs.items():
        for _ in range(2):
            run()
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    return timings


def analyse() -> None:
    db.database.execute_sql("ANALYZE")


def explain(sellers: list[str], categories: list[str]) -> None:
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite() else "EXPLAIN "
    filters = {"first page": catalogue.ProductFilters(), "search": catalogue.ProductFilters(q="cotton"),
               "rare search": catalogue.ProductFilters(q=RARE_WORD),
               "category+range": catalogue.ProductFilters(category_id=categories[3], in_stock=True,
                                                          min_price=1_000_000, max_price=2_000_000)}
    for name, f in filters.items():
        query = (Product.select().where(Product.deleted_at.is_null(), *catalogue._conditions(f))
                 .order_by(Product.id.desc()).limit(21))
        sql, params = query.sql()
        rows = db.database.execute_sql(prefix + sql, params).fetchall()
        print(f"\n-- plan: {name}")
        for row in rows:
            print("   ", row[-1] if db.is_sqlite() else row[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    server = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as scratch, fresh_database(server, Path(scratch)) as url:
        db.connect(url)
        try:
            return run(args)
        finally:
            db.database.close()


def run(args: argparse.Namespace) -> int:
    apply_all(db.database.obj)
    rng = random.Random(20240601)
    engine = "sqlite " + db.database.execute_sql("select sqlite_version()").fetchone()[0] if db.is_sqlite() \
        else db.database.execute_sql("show server_version").fetchone()[0].join(("postgresql ", ""))
    with db.connection():
        sellers = make_sellers(SELLERS)
        categories = [c.id for c in Category.select().order_by(Category.slug)]
        fill(args.baseline, sellers, categories, rng, start=0)
        analyse()
        small = measure(queries(sellers, categories), args.repeat)

        started = time.perf_counter()
        fill(args.products - args.baseline, sellers, categories, rng, start=args.baseline)
        analyse()
        fill_seconds = time.perf_counter() - started
        large = measure(queries(sellers, categories), args.repeat)

        print(f"\n{engine}: {args.products:,} products (baseline {args.baseline:,}); "
              f"filled in {fill_seconds:.1f} s; median of {args.repeat} runs, page size 20\n")
        print(f"{'query':34} {f'{args.baseline:,} ms':>10} {f'{args.products:,} ms':>12} {'ratio':>7}")
        print("-" * 66)
        for name in large:
            print(f"{name:34} {small[name]:10.2f} {large[name]:12.2f} {large[name] / small[name]:7.1f}x")
        if args.explain:
            explain(sellers, categories)
    return 0


if __name__ == "__main__":
    sys.exit(main())
