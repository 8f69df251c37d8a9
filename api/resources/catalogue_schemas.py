"""Catalogue request and response bodies (validation and /openapi.json, like api.schemas)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo
from pydantic import field_validator as field_check
from pydantic_core import PydanticCustomError

from api.schemas import Out, Strict
from models.catalogue import MAX_PRICE, MAX_STOCK
from services.currencies import DEFAULT_CURRENCY, is_currency

_ID = re.compile(r"^[a-z]{2,8}_[0-9a-z]{26}$")
_LINE_BREAKS = {"\n", "\r", "\t"}


def _text(value: str, *, multiline: bool) -> str:
    """Printable Unicode only. A NUL would make PostgreSQL refuse the row (a 500); a lone surrogate
    cannot be stored as UTF-8 at all; other control characters are never wanted in a listing."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_text", "must be valid Unicode text") from None
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in _LINE_BREAKS):
            raise PydanticCustomError("control_character", "must not contain control characters")
    return value


def _single_line(value: str) -> str:
    return _text(value, multiline=False)


def _multiline(value: str) -> str:
    return _text(value, multiline=True)


def _currency(value: str) -> str:
    code = value.upper()
    if not is_currency(code):
        raise PydanticCustomError("currency", "must be an ISO 4217 currency code")
    return code


def _id(value: str) -> str:
    if not _ID.match(value):
        raise PydanticCustomError("id", "is not a valid id")
    return value


ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                        AfterValidator(_single_line)]
Description = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_multiline)]
Price = Annotated[int, Field(gt=0, le=MAX_PRICE, description="Minor units of `currency` (kobo for NGN).")]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency),
                     Field(description="ISO 4217 code.")]
Id = Annotated[str, StringConstraints(max_length=40), AfterValidator(_id)]
SearchText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_single_line)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]


# --- requests ------------------------------------------------------------------------------------

def _without_default(schema: dict) -> None:
    schema.pop("default", None)


# "Not sent" for a field that may not be null; the published schema shows no (null) default.
_OMITTED = Field(default=None, json_schema_extra=_without_default)

class ProductIn(Strict):
    name: ProductName
    description: Description
    price: Price
    currency: Currency = DEFAULT_CURRENCY
    stock: Stock
    category_id: Id | None = None


class ProductPatchIn(Strict):
    """Any of the create fields. Omitted fields keep their value; only `category_id` may be null
    (no category). The `None` defaults only mark "omitted": an explicit null fails the type."""

    name: ProductName = _OMITTED
    description: Description = _OMITTED
    price: Price = _OMITTED
    currency: Currency = _OMITTED
    stock: Stock = _OMITTED
    category_id: Id | None = None

    def changes(self) -> dict[str, object]:
        return {field: getattr(self, field) for field in self.model_fields_set}


class ProductListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: SearchText | None = Field(None, description="Words to find in the name or description (word prefixes).")
    seller_id: Id | None = None
    category_id: Id | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    in_stock: bool | None = Field(None, description="true: stock > 0; false: stock = 0.")
    limit: Limit = 20
    cursor: Cursor | None = None

    @field_check("max_price")
    @classmethod
    def _range(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_price")
        if value is not None and low is not None and value < low:
            raise PydanticCustomError("price_range", "must be >= min_price")
        return value


# --- responses -----------------------------------------------------------------------------------

class ImageOut(Out):
    """An uploaded image; both URLs are absolute and public."""

    id: str
    url: str
    thumbnail_url: str
    width: int
    height: int
    content_type: str


class ProductOut(Out):
    """A product for sale."""

    id: str
    seller_id: str
    category_id: str | None
    name: str
    description: str
    price: int
    currency: str
    stock: int
    images: list[ImageOut]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ProductListOut(Out):
    """A page of products, newest first."""

    data: list[ProductOut]
    next_cursor: str | None


class CategoryOut(Out):
    id: str
    name: str
    slug: str


class CategoryListOut(Out):
    """Every category."""

    data: list[CategoryOut]
