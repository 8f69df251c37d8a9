"""Products: create, read, update, delete; who may do what; every bad field; stock under contention."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peewee as pw
import pytest
from playhouse.db_url import connect as connect_url

from models import db
from models.catalogue import Category, Product
from models.identity import User
from models.migrate import apply_all
from services import catalogue
from services.errors import EmailNotConfirmed
from tests.support.catalogue import create_product, product_body, seller
from tests.support.databases import fresh_database
from tests.support.identity import assert_problem, register

PRODUCT_FIELDS = {"id", "seller_id", "category_id", "name", "description", "price", "currency", "stock", "images",
                  "created_at", "updated_at"}


def category(name: str = "Fashion") -> Category:
    with db.connection():
        return catalogue.create_category(name)


# --- create and read ---------------------------------------------------------------------------

def test_create_then_read_publicly(client):
    user, headers = seller(client)
    shoes = category("Shoes")
    created = client.simulate_post("/v1/products", headers=headers, json=product_body(
        name="  Leather sandals  ", description="Size 42.\nHandmade in Kano.", price=1_500_000, stock=3,
        category_id=shoes.id))
    assert created.status_code == 201, created.text
    product = created.json
    assert set(product) == PRODUCT_FIELDS
    assert product["id"].startswith("prd_") and product["seller_id"] == user["id"]
    assert product["name"] == "Leather sandals"  # trimmed
    assert product["description"] == "Size 42.\nHandmade in Kano."
    assert (product["price"], product["currency"], product["stock"]) == (1_500_000, "NGN", 3)
    assert product["category_id"] == shoes.id and product["images"] == []
    assert product["created_at"].endswith("Z")

    fetched = client.simulate_get(f"/v1/products/{product['id']}")  # no Authorization header
    assert fetched.status_code == 200 and fetched.json == product


def test_currency_is_normalised_and_description_may_be_empty(client):
    _, headers = seller(client)
    product = create_product(client, headers, currency="usd", description="")
    assert product["currency"] == "USD" and product["description"] == ""


def test_creating_requires_a_signed_in_user(client):
    assert_problem(client.simulate_post("/v1/products", json=product_body()), 401, "unauthenticated")
    bad = {"Authorization": "Bearer not-a-token"}
    assert_problem(client.simulate_post("/v1/products", json=product_body(), headers=bad), 401, "unauthenticated")


def test_an_unconfirmed_user_cannot_sell(client):
    register(client, "unconfirmed@example.com")
    with db.connection():
        user = User.get(User.email == "unconfirmed@example.com")
        with pytest.raises(EmailNotConfirmed):
            catalogue.create_product(user, name="x", description="", price=1, stock=1, currency="NGN")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"price": 0}, "price"),
    ({"price": -100}, "price"),
    ({"price": 10.5}, "price"),
    ({"price": 100.0}, "price"),
    ({"price": "100"}, "price"),
    ({"price": True}, "price"),
    ({"price": 10**15}, "price"),
    ({"price": None}, "price"),
    ({"price": ...}, "price"),
    ({"stock": -1}, "stock"),
    ({"stock": 1.5}, "stock"),
    ({"stock": 10**10}, "stock"),
    ({"stock": ...}, "stock"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "NG"}, "currency"),
    ({"currency": "NGNN"}, "currency"),
    ({"currency": "XAU"}, "currency"),
    ({"currency": None}, "currency"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "bad\x00name"}, "name"),
    ({"name": "two\nlines"}, "name"),
    ({"name": "\ud800"}, "name"),
    ({"name": 42}, "name"),
    ({"name": ...}, "name"),
    ({"description": "d" * 5001}, "description"),
    ({"description": "nul\x00"}, "description"),
    ({"description": ...}, "description"),
    ({"category_id": "cat_doesnotexist"}, "category_id"),
    ({"category_id": "cat_01hzz0000000000000000000aa"}, "category_id"),
    ({"category_id": 7}, "category_id"),
    ({"seller_id": "usr_01hzz0000000000000000000aa"}, "seller_id"),
    ({"images": []}, "images"),
    ({"id": "prd_01hzz0000000000000000000aa"}, "id"),
])
def test_every_bad_field_is_a_field_level_422(client, overrides, field):
    _, headers = seller(client)
    raw = json.dumps(product_body(**overrides)).encode()  # ASCII escapes: a lone surrogate travels as \ud800
    result = client.simulate_post("/v1/products", body=raw, headers={**headers, "Content-Type": "application/json"})
    body = assert_problem(result, 422, "validation_error")
    assert field in {error["field"] for error in body["errors"]}, body
    with db.connection():
        assert Product.select().count() == 0


def test_limits_are_inclusive(client):
    _, headers = seller(client)
    product = create_product(client, headers, name="n" * 200, description="d" * 5000, price=10**11, stock=0)
    assert product["price"] == 10**11 and product["stock"] == 0


def test_malformed_json_and_wrong_media_type(client):
    _, headers = seller(client)
    json_headers = {**headers, "Content-Type": "application/json"}
    assert_problem(client.simulate_post("/v1/products", body=b'{"name": ', headers=json_headers), 400, "invalid_json")
    assert_problem(client.simulate_post("/v1/products", body=b"[1, 2]", headers=json_headers),
                   422, "validation_error")
    form_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert_problem(client.simulate_post("/v1/products", body=b"name=x", headers=form_headers),
                   415, "unsupported_media_type")


@pytest.mark.parametrize("product_id", ["prd_nope", "prd_01hzz0000000000000000000aa", "%00", "x" * 500,
                                        "..%2F..%2Fetc"])
def test_unknown_products_are_404(client, product_id):
    assert_problem(client.simulate_get(f"/v1/products/{product_id}"), 404, "not_found")


# --- update ------------------------------------------------------------------------------------

def test_owner_patches_any_subset_of_fields(client):
    _, headers = seller(client)
    fashion = category()
    product = create_product(client, headers)
    url = f"/v1/products/{product['id']}"

    patched = client.simulate_patch(url, headers=headers, json={"price": 999, "stock": 0, "category_id": fashion.id})
    assert patched.status_code == 200, patched.text
    assert (patched.json["price"], patched.json["stock"], patched.json["category_id"]) == (999, 0, fashion.id)
    assert patched.json["name"] == product["name"] and patched.json["description"] == product["description"]
    assert patched.json["updated_at"] >= product["updated_at"] and patched.json["created_at"] == product["created_at"]

    cleared = client.simulate_patch(url, headers=headers, json={"category_id": None, "name": "Renamed"})
    assert cleared.status_code == 200 and cleared.json["category_id"] is None and cleared.json["name"] == "Renamed"

    unchanged = client.simulate_patch(url, headers=headers, json={})
    assert unchanged.status_code == 200 and unchanged.json == cleared.json
    assert client.simulate_get(url).json == cleared.json


@pytest.mark.parametrize(("body", "field"), [
    ({"name": None}, "name"),
    ({"price": None}, "price"),
    ({"stock": None}, "stock"),
    ({"price": 0}, "price"),
    ({"stock": -5}, "stock"),
    ({"currency": "EURO"}, "currency"),
    ({"description": None}, "description"),
    ({"category_id": "cat_01hzz0000000000000000000aa"}, "category_id"),
    ({"seller_id": "usr_01hzz0000000000000000000aa"}, "seller_id"),
    ({"deleted_at": None}, "deleted_at"),
])
def test_patch_validates_like_create(client, body, field):
    _, headers = seller(client)
    product = create_product(client, headers)
    result = client.simulate_patch(f"/v1/products/{product['id']}", headers=headers, json=body)
    assert field in {error["field"] for error in assert_problem(result, 422, "validation_error")["errors"]}
    assert client.simulate_get(f"/v1/products/{product['id']}").json == product


def test_only_the_owner_may_change_or_delete_and_others_see_404(client):
    _, owner = seller(client)
    _, other = seller(client)
    product = create_product(client, owner)
    url = f"/v1/products/{product['id']}"

    assert_problem(client.simulate_patch(url, headers=other, json={"price": 1}), 404, "not_found")
    assert_problem(client.simulate_delete(url, headers=other), 404, "not_found")
    assert_problem(client.simulate_patch(url, json={"price": 1}), 401, "unauthenticated")
    assert_problem(client.simulate_delete(url), 401, "unauthenticated")
    # A non-owner's answer is exactly a missing product's answer (no enumeration).
    missing = client.simulate_patch("/v1/products/prd_01hzz0000000000000000000aa", headers=other, json={"price": 1})
    assert missing.json == client.simulate_patch(url, headers=other, json={"price": 1}).json
    assert client.simulate_get(url).json == product


# --- delete ------------------------------------------------------------------------------------

def test_delete_is_soft_and_final(client):
    _, headers = seller(client)
    product = create_product(client, headers)
    url = f"/v1/products/{product['id']}"

    deleted = client.simulate_delete(url, headers=headers)
    assert deleted.status_code == 204 and not deleted.content
    assert_problem(client.simulate_get(url), 404, "not_found")
    assert_problem(client.simulate_patch(url, headers=headers, json={"stock": 9}), 404, "not_found")
    assert_problem(client.simulate_delete(url, headers=headers), 404, "not_found")
    assert client.simulate_get("/v1/products").json["data"] == []
    with db.connection():
        row = Product.get_by_id(product["id"])  # kept for the purchases that reference it
        assert row.deleted_at is not None and row.name == product["name"] and row.price == product["price"]
        assert catalogue.take_stock(product["id"], 1) is False  # cannot be bought
        assert Product.get_by_id(product["id"]).stock == product["stock"]


# --- stock -------------------------------------------------------------------------------------

def test_take_stock_never_oversells_under_contention(client):
    _, headers = seller(client)
    product = create_product(client, headers, stock=5)
    barrier = threading.Barrier(12)

    def buy() -> bool:
        with db.connection():
            barrier.wait()
            with db.atomic():
                return catalogue.take_stock(product["id"], 1)

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: buy(), range(12)))
    assert results.count(True) == 5
    assert client.simulate_get(f"/v1/products/{product['id']}").json["stock"] == 0


def test_owner_stock_patch_and_purchases_do_not_tear(client):
    """Both are single conditional statements: whatever the interleaving, the final stock is the
    patched value minus the purchases that committed after it, and never negative."""
    _, headers = seller(client)
    product = create_product(client, headers, stock=10)
    url = f"/v1/products/{product['id']}"
    barrier = threading.Barrier(9)

    def buy() -> bool:
        with db.connection():
            barrier.wait()
            with db.atomic():
                return catalogue.take_stock(product["id"], 2)

    def restock() -> int:
        barrier.wait()
        return client.simulate_patch(url, headers=headers, json={"stock": 7}).status_code

    with ThreadPoolExecutor(9) as pool:
        buys = [pool.submit(buy) for _ in range(8)]
        assert pool.submit(restock).result() == 200
        succeeded = sum(future.result() for future in buys)
    final = client.simulate_get(url).json["stock"]
    # Purchases before the PATCH are overwritten by it (an absolute set); those after it count.
    assert final in {7, 5, 3, 1}, final
    assert succeeded >= (7 - final) // 2


def test_check_constraints_are_a_second_wall(client):
    _, headers = seller(client)
    product = create_product(client, headers, stock=1)
    with db.connection():
        for values in ({Product.stock: -1}, {Product.price: 0}):
            with pytest.raises(pw.IntegrityError), db.atomic():
                Product.update(values).where(Product.id == product["id"]).execute()


# --- categories --------------------------------------------------------------------------------

def test_categories_are_public_sorted_and_created_idempotently(client):
    for name in ("Toys & Games", "Books", "Home & Garden"):
        category(name)
    again = category("home   &   garden")
    listed = client.simulate_get("/v1/categories")
    assert listed.status_code == 200
    assert [c["name"] for c in listed.json["data"]] == ["Books", "Home & Garden", "Toys & Games"]
    assert {c["slug"] for c in listed.json["data"]} == {"books", "home-garden", "toys-games"}
    assert again.slug == "home-garden" and set(listed.json["data"][0]) == {"id", "name", "slug"}


def test_migrations_seed_a_default_category_set(tmp_path: Path):
    with fresh_database(os.environ.get("DATABASE_URL", ""), tmp_path) as url:
        database = connect_url(url)
        try:
            apply_all(database)
            with database.bind_ctx([Category]):
                slugs = {c.slug for c in Category.select()}
        finally:
            database.close()
    assert {"electronics", "fashion", "groceries", "books"} <= slugs and len(slugs) >= 8
