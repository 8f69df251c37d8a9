"""Build money test states straight in the database (users, funded wallets, products, intents),
so concurrency tests spend their time racing rather than clicking through checkouts."""

from __future__ import annotations

from models import db
from models.catalogue import Product
from models.identity import User
from models.ledger import Leg, post, system_account
from models.transactions import PURCHASE, OrderItem, Transaction
from services.money import platform_fee
from services.payments import ensure_wallet, new_reference
from services.settlement import PROVIDER_CLEARING


def user(email: str) -> User:
    with db.atomic():
        created = User.create(id=db.new_id("usr"), email=email, full_name=email.split("@")[0],
                              password_hash="!unusable", password_changed_at=db.utcnow(),
                              email_confirmed_at=db.utcnow())
        ensure_wallet(created.id, "NGN")
    return created


def funded_user(email: str, amount: int) -> User:
    buyer = user(email)
    credit(buyer.id, amount)
    return buyer


def credit(user_id: str, amount: int) -> None:
    """A succeeded funding of `amount`, as if paid through the provider."""
    with db.atomic():
        txn = Transaction.create(id=db.new_id("txn"), kind="funding", status="succeeded", user=user_id,
                                 amount=amount, currency="NGN", reference=new_reference("funding"))
        post(txn.id, "funding", "Wallet funding", [Leg(system_account(PROVIDER_CLEARING, "NGN"), -amount),
                                                   Leg(ensure_wallet(user_id, "NGN").id, amount)])


def product(seller: User, price: int, stock: int, name: str = "Lamp") -> Product:
    with db.atomic():
        return Product.create(id=db.new_id("prd"), seller=seller, name=name, description="", price=price,
                              currency="NGN", stock=stock)


def purchase_intent(buyer: User, item: Product, quantity: int = 1, fee_bps: int = 0) -> Transaction:
    amount = item.price * quantity
    with db.atomic():
        txn = Transaction.create(id=db.new_id("txn"), kind=PURCHASE, user=buyer, amount=amount, currency="NGN",
                                 reference=new_reference(PURCHASE), fee=platform_fee(amount, fee_bps))
        OrderItem.create(id=db.new_id("itm"), transaction=txn, product_id=item.id, seller=item.seller_id,
                         name=item.name, unit_price=item.price, quantity=quantity, fee=txn.fee)
    return txn


def balance(user_id: str) -> int:
    return ensure_wallet(user_id, "NGN").balance
