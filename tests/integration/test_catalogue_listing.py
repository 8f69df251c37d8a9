"""GET /v1/products: public, newest first, filters, search, and cursor pagination that neither
skips nor repeats while products are being inserted."""

from __future__ import annotations

import base64
import threading

import pytest

from models import db
from models.catalogue import Product
from models.identity import User
from services import catalogue
from tests.support.catalogue import create_product, seller
from tests.support.identity import assert_problem


def listing(client, **params) -> dict:
    result = client.simulate_get("/v1/products", params={k: str(v) for k, v in params.items()})
    assert result.status_code == 200, result.text
    return result.json


def names(page: dict) -> list[str]:
    return [product["name"] for product in page["data"]]


def walk(client, **params) -> list[dict]:
    """Every product, page by page."""
    seen, cursor = [], None
    while True:
        page = listing(client, **params, **({"cursor": cursor} if cursor else {}))
        seen.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def insert_products(seller_id: str, count: int, prefix: str = "item") -> list[str]:
    """Products straight into the database (fast), one by one: ids in creation order."""
    with db.connection():
        return [catalogue.create_product(User.get_by_id(seller_id), name=f"{prefix} {i}", description="",
                                         price=100 + i, stock=i % 3, currency="NGN").id for i in range(count)]


def test_newest_first_with_cursor_pages_and_no_auth(client):
    user, _ = seller(client)
    # Newest first means descending id: creation order to the millisecond, ties by the id's random part.
    newest_first = sorted(insert_products(user["id"], 7), reverse=True)
    first = listing(client, limit=3)
    assert [p["id"] for p in first["data"]] == newest_first[:3]
    assert first["next_cursor"]
    everything = walk(client, limit=3)
    assert [p["id"] for p in everything] == newest_first
    exact = listing(client, limit=7)
    assert len(exact["data"]) == 7 and exact["next_cursor"] is None  # no empty trailing page
    assert listing(client)["next_cursor"] is None and len(listing(client)["data"]) == 7  # default limit 20


def test_an_empty_catalogue(client):
    assert listing(client) == {"data": [], "next_cursor": None}


def newest(*products: dict) -> list[str]:
    """Names in listing order: descending id."""
    return [p["name"] for p in sorted(products, key=lambda p: p["id"], reverse=True)]


def test_filters(client):
    alice, a_headers = seller(client)
    bob, b_headers = seller(client)
    with db.connection():
        shoes, bags = catalogue.create_category("Shoes"), catalogue.create_category("Bags")
    cheap = create_product(client, a_headers, name="Cheap shoe", price=500, stock=0, category_id=shoes.id)
    mid = create_product(client, a_headers, name="Mid shoe", price=5_000, stock=2, category_id=shoes.id)
    dear = create_product(client, b_headers, name="Dear bag", price=50_000, stock=1, category_id=bags.id)
    loose = create_product(client, b_headers, name="No category", price=5_000, stock=9)

    assert names(listing(client, seller_id=alice["id"])) == newest(mid, cheap)
    assert names(listing(client, category_id=shoes.id)) == newest(mid, cheap)
    assert names(listing(client, min_price=5_000)) == newest(loose, dear, mid)
    assert names(listing(client, max_price=5_000)) == newest(loose, mid, cheap)
    assert names(listing(client, min_price=5_000, max_price=5_000)) == newest(loose, mid)
    assert names(listing(client, in_stock="true")) == newest(loose, dear, mid)
    assert names(listing(client, in_stock="false")) == ["Cheap shoe"]
    assert names(listing(client, seller_id=bob["id"], category_id=bags.id, in_stock=1)) == ["Dear bag"]
    assert listing(client, seller_id="usr_01hzz0000000000000000000aa")["data"] == []


def test_search_name_and_description(client):
    _, headers = seller(client)
    bag = create_product(client, headers, name="Red leather handbag", description="Zip pocket, gold clasp.")
    shirt = create_product(client, headers, name="Blue cotton shirt", description="Slim fit. Pairs with a red tie.")
    create_product(client, headers, name="Phone case", description="Fits most smartphones.")

    assert names(listing(client, q="handbag")) == ["Red leather handbag"]
    assert names(listing(client, q="HANDBAG")) == ["Red leather handbag"]
    assert names(listing(client, q="red")) == newest(bag, shirt)  # in the name or the description
    assert names(listing(client, q="red cotton")) == ["Blue cotton shirt"]  # every word must match
    assert names(listing(client, q="hand")) == ["Red leather handbag"]  # word prefixes match
    assert names(listing(client, q="clasp")) == ["Red leather handbag"]
    assert names(listing(client, q="smartphones!")) == ["Phone case"]
    assert listing(client, q="tractor")["data"] == []
    assert len(listing(client, q="%%% '; --")["data"]) == 3  # no words: no search filter
    assert names(listing(client, q="red", max_price=10**11, limit=1)) == newest(bag, shirt)[:1]


def test_search_paginates(client):
    user, _ = seller(client)
    insert_products(user["id"], 9, prefix="lamp")
    insert_products(user["id"], 4, prefix="chair")
    found = walk(client, q="lamp", limit=4)
    assert sorted(p["name"] for p in found) == sorted(f"lamp {i}" for i in range(9))


def test_deleted_products_leave_the_listing(client):
    _, headers = seller(client)
    kept = create_product(client, headers, name="kept")
    gone = create_product(client, headers, name="gone")
    assert client.simulate_delete(f"/v1/products/{gone['id']}", headers=headers).status_code == 204
    assert names(listing(client)) == ["kept"]
    assert names(listing(client, q="gone")) == []
    assert listing(client, seller_id=kept["seller_id"])["data"][0]["id"] == kept["id"]


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"min_price": 0}, "min_price"),
    ({"min_price": "1.5"}, "min_price"),
    ({"min_price": 900, "max_price": 100}, "max_price"),
    ({"in_stock": "maybe"}, "in_stock"),
    ({"seller_id": "nobody"}, "seller_id"),
    ({"category_id": "x" * 41}, "category_id"),
    ({"q": "x" * 201}, "q"),
    ({"q": "nul\x00byte"}, "q"),
    ({"sort": "price"}, "sort"),
])
def test_bad_query_parameters_are_422(client, params, field):
    result = client.simulate_get("/v1/products", params=params)
    assert field in {e["field"] for e in assert_problem(result, 422, "validation_error")["errors"]}


@pytest.mark.parametrize("cursor", [
    "garbage!!",
    "AA",  # base64 of a NUL byte
    base64.urlsafe_b64encode(b"' OR 1=1 --").decode(),
    base64.urlsafe_b64encode(b"usr_01hzz0000000000000000000aa").decode(),  # another resource's id
    "////",
])
def test_foreign_cursors_are_400(client, cursor):
    assert_problem(client.simulate_get("/v1/products", params={"cursor": cursor}), 400, "invalid_cursor")


def test_pagination_neither_skips_nor_repeats_under_concurrent_inserts(client):
    user, _ = seller(client)
    existing = set(insert_products(user["id"], 40, prefix="before"))
    stop = threading.Event()
    inserted: list[str] = []

    def keep_inserting() -> None:
        with db.connection():
            owner = User.get_by_id(user["id"])
            while not stop.is_set():
                inserted.append(catalogue.create_product(owner, name="during", description="", price=1, stock=1,
                                                         currency="NGN").id)

    writer = threading.Thread(target=keep_inserting)
    writer.start()
    try:
        seen, cursor, pages = [], None, 0
        while True:
            page = listing(client, limit=6, **({"cursor": cursor} if cursor else {}))
            seen.extend(p["id"] for p in page["data"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        writer.join()

    assert inserted, "the writer never got to insert"
    assert len(seen) == len(set(seen)), "an item was repeated"
    assert existing <= set(seen), "an item that existed before paging began was skipped"
    assert seen == sorted(seen, reverse=True)  # strictly newest first throughout
    assert pages >= 7


def test_listing_uses_the_indexes_it_was_given(client):
    """On PostgreSQL the search must be answerable from the GIN index (the planner may still
    prefer another plan on a tiny table, so index scans are forced off for the check)."""
    if db.is_sqlite():
        pytest.skip("the expression index exists on PostgreSQL only")
    with db.connection(), db.database.atomic():
        db.database.execute_sql("SET LOCAL enable_seqscan = off")
        query = Product.select().where(catalogue._search(["phone"])).sql()
        plan = "\n".join(row[0] for row in db.database.execute_sql("EXPLAIN " + query[0], query[1]).fetchall())
    assert "products_search" in plan, plan


@pytest.mark.parametrize("limit", [1, 3])
def test_search_pages_are_exact_whichever_way_they_are_found(client, monkeypatch, limit):
    """On PostgreSQL a search page comes from a window of the newest rows when it holds a full
    page, and from the GIN index otherwise; with a tiny window, a catalogue dense in matches at the
    new end and sparse at the old end exercises both. The pages must be exactly the matches."""
    monkeypatch.setattr(catalogue, "SEARCH_WINDOW", 0)  # window = 10 x (limit + 1) rows
    user, _ = seller(client)
    with db.connection():
        owner = User.get_by_id(user["id"])
        made = [(catalogue.create_product(owner, name="match" if (i >= 60 and i % 2 == 0) or i % 15 == 0 else "other",
                                          description="", price=1, stock=1, currency="NGN"), i) for i in range(80)]
    expected = sorted((p.id for p, _ in made if p.name == "match"), reverse=True)
    assert [p["id"] for p in walk(client, q="match", limit=limit)] == expected
    assert [p["id"] for p in walk(client, q="match other", limit=limit)] == []
