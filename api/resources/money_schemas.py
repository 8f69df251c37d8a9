"""Bodies of the wallet, money-movement, bank and webhook endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, StringConstraints

from api.schemas import Out, Strict
from services.money import MAX_AMOUNT

Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, description="Minor units (kobo for NGN)")]
Currency = Literal["NGN", "GHS", "ZAR", "KES", "USD"]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Kind = Literal["funding", "purchase", "withdrawal"]
Status = Literal["pending", "requires_action", "processing", "succeeded", "failed", "reversed"]


class FundingIn(Strict):
    amount: Amount
    currency: Currency = "NGN"


class PurchaseIn(Strict):
    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=1000)]


class WithdrawalIn(Strict):
    amount: Amount
    bank_account_id: Id


class BankAccountIn(Strict):
    bank_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{2,20}$")]
    account_number: Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class WalletQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: Currency = "NGN"


class EntriesQuery(Page):
    currency: Currency = "NGN"


class TransactionsQuery(Page):
    kind: Kind | None = None
    status: Status | None = None


class CallbackQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the provider adds its own parameters
    reference: Annotated[str, StringConstraints(max_length=100)] | None = None
    trxref: Annotated[str, StringConstraints(max_length=100)] | None = None


class WalletOut(Out):
    currency: str
    balance: int
    held: int
    available: int


class EntryOut(Out):
    id: str
    transaction_id: str
    amount: int = Field(description="Signed: negative leaves the wallet")
    balance_after: int
    description: str
    created_at: AwareDatetime


class EntryList(Out):
    data: list[EntryOut]
    next_cursor: str | None


class ItemOut(Out):
    product_id: str
    seller_id: str
    name: str
    unit_price: int
    quantity: int
    line_total: int


class _TransactionBase(Out):
    id: str
    status: Status
    amount: int
    currency: str
    reference: str
    failure_reason: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class FundingOut(_TransactionBase):
    kind: Literal["funding"]
    authorization_url: str | None


class PurchaseOut(_TransactionBase):
    kind: Literal["purchase"]
    product_id: str
    quantity: int
    unit_price: int
    seller_id: str
    fee: int
    receipt_url: str | None
    items: list[ItemOut]


class WithdrawalOut(_TransactionBase):
    kind: Literal["withdrawal"]
    bank_account_id: str


AnyTransaction = Annotated[FundingOut | PurchaseOut | WithdrawalOut, Field(discriminator="kind")]


class TransactionOut(RootModel[AnyTransaction]):
    """A funding, purchase or withdrawal, told apart by `kind`."""


class TransactionList(Out):
    data: list[AnyTransaction]
    next_cursor: str | None


class BankOut(Out):
    name: str
    code: str


class BankList(Out):
    data: list[BankOut]


class BankAccountOut(Out):
    id: str
    bank_code: str
    bank_name: str
    account_number: str
    account_name: str


class BankAccountList(Out):
    data: list[BankAccountOut]
    next_cursor: str | None = None


class WebhookAck(Out):
    received: bool
