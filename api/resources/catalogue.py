"""/v1/categories and /v1/products[/{id}[/images[/{image_id}]]]: thin adapters to services.catalogue."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import falcon

from api import schemas
from api.errors import ApiError
from api.resources import catalogue_schemas as cs
from api.spec import operation
from api.uploads import received_file
from models.catalogue import Category, Product, ProductImage
from services import catalogue
from services.errors import UnknownCategory
from services.images import ImageLimits
from services.storage import IMAGES, THUMBNAILS, Storage, storage_for

TAGS = ("catalogue",)
NOT_FOUND = {404: ["not_found"]}
OWNER_ERRORS = {401: ["unauthenticated"], 404: ["not_found"]}


def storage(req: falcon.Request) -> Storage:
    return storage_for(req.context.deps.settings)


def image_out(image: ProductImage, store: Storage) -> dict:
    return cs.ImageOut(id=image.id, url=store.url(IMAGES, image.file_name),
                       thumbnail_url=store.url(THUMBNAILS, image.thumbnail_name), width=image.width,
                       height=image.height, content_type=image.content_type).model_dump(mode="json")


def product_out(product: Product, images: list[ProductImage], store: Storage) -> dict:
    return cs.ProductOut(
        id=product.id, seller_id=product.seller_id, category_id=product.category_id, name=product.name,
        description=product.description, price=product.price, currency=product.currency, stock=product.stock,
        images=[image_out(image, store) for image in images], created_at=schemas.utc(product.created_at),
        updated_at=schemas.utc(product.updated_at),
    ).model_dump(mode="json")


def one_product_out(product: Product, store: Storage) -> dict:
    return product_out(product, catalogue.images_of([product])[product.id], store)


def category_out(category: Category) -> dict:
    return cs.CategoryOut(id=category.id, name=category.name, slug=category.slug).model_dump(mode="json")


@contextlib.contextmanager
def category_field() -> Iterator[None]:
    """An unknown category is a field-level validation error, like any other bad field."""
    try:
        yield
    except UnknownCategory:
        raise ApiError(422, "validation_error", "Validation failed", "The request body has invalid fields.",
                       errors=[{"field": "category_id", "message": "unknown category"}]) from None


class Categories:
    @operation("Every product category (operators manage them)", tags=TAGS, responses={200: cs.CategoryListOut})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"data": [category_out(category) for category in catalogue.list_categories()]}


class Products:
    @operation("Products for sale, newest first: search, filters, cursor pagination (public)", tags=TAGS,
               query=cs.ProductListQuery, responses={200: cs.ProductListOut},
               errors={400: ["invalid_cursor"], 422: ["validation_error"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query: cs.ProductListQuery = req.context.query
        filters = catalogue.ProductFilters(q=query.q, seller_id=query.seller_id, category_id=query.category_id,
                                           min_price=query.min_price, max_price=query.max_price,
                                           in_stock=query.in_stock)
        page = catalogue.list_products(filters, query.limit, query.cursor)
        images = catalogue.images_of(page.products)
        store = storage(req)
        resp.media = {"data": [product_out(product, images[product.id], store) for product in page.products],
                      "next_cursor": page.next_cursor}

    @operation("Put a product up for sale (any confirmed user)", tags=TAGS, auth=True, body=cs.ProductIn,
               responses={201: cs.ProductOut}, errors={403: ["email_not_confirmed"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        with category_field():
            product = catalogue.create_product(req.context.user, **req.context.body.model_dump())
        resp.status = 201
        resp.media = product_out(product, [], storage(req))


class ProductItem:
    @operation("One product (public; 404 once deleted)", tags=TAGS, responses={200: cs.ProductOut}, errors=NOT_FOUND)
    def on_get(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:
        resp.media = one_product_out(catalogue.get_product(id), storage(req))

    @operation("Change a product (owner only)", tags=TAGS, auth=True, body=cs.ProductPatchIn,
               responses={200: cs.ProductOut}, errors=OWNER_ERRORS)
    def on_patch(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:
        with category_field():
            product = catalogue.update_product(req.context.user.id, id, req.context.body.changes())
        resp.media = one_product_out(product, storage(req))

    @operation("Withdraw a product from sale (owner only); past purchases keep their data", tags=TAGS,
               auth=True, responses={204: None}, errors=OWNER_ERRORS)
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:
        catalogue.delete_product(req.context.user.id, id, storage(req))
        resp.status = 204


class ProductImages:
    @operation("Upload a product image (owner only): multipart/form-data, part `file`; JPEG, PNG or WebP",
               tags=TAGS, auth=True, form={"file": "A JPEG, PNG or WebP image; re-encoded, metadata removed"},
               responses={201: cs.ImageOut},
               errors={**OWNER_ERRORS, 400: ["invalid_multipart"], 409: ["too_many_images"],
                       411: ["length_required"], 413: ["body_too_large", "file_too_large"],
                       415: ["unsupported_media_type"],
                       422: ["image_too_large", "image_corrupt", "validation_error"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response, id: str) -> None:
        settings = req.context.deps.settings
        seller_id = req.context.user.id
        # Refuse what we can before reading a byte of the body.
        catalogue.owned_product(seller_id, id)
        catalogue.check_image_capacity(id, settings.images_per_product)
        store = storage(req)
        with received_file(req, "file", settings.upload_max_bytes, store.scratch_dir) as upload:
            image = catalogue.add_image(seller_id, id, upload, store, ImageLimits.from_settings(settings),
                                        settings.images_per_product)
        resp.status = 201
        resp.media = image_out(image, store)


class ProductImageItem:
    @operation("Remove a product image (owner only)", tags=TAGS, auth=True, responses={204: None},
               errors=OWNER_ERRORS)
    def on_delete(self, req: falcon.Request, resp: falcon.Response, id: str, image_id: str) -> None:
        catalogue.delete_image(req.context.user.id, id, image_id, storage(req))
        resp.status = 204


ROUTES = [
    ("/v1/categories", Categories()),
    ("/v1/products", Products()),
    ("/v1/products/{id}", ProductItem()),
    ("/v1/products/{id}/images", ProductImages()),
    ("/v1/products/{id}/images/{image_id}", ProductImageItem()),
]
