"""Pure money logic: the fee rounding rule, display formatting, and a purchase's postings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.money import format_amount, platform_fee
from services.settlement import plan_purchase


@pytest.mark.parametrize(("amount", "bps", "fee"), [
    (1_999, 250, 49),  # 49.975 kobo rounds down: the seller never gets less than their exact share
    (10_000, 250, 250),
    (1, 9_999, 0),
    (123_456, 0, 0),
    (123_456, 10_000, 123_456),
    (10**12, 1, 10**8),  # integers all the way: no float rounding at large amounts
])
def test_platform_fee_rounds_down_to_a_whole_minor_unit(amount, bps, fee):
    assert platform_fee(amount, bps) == fee
    assert isinstance(platform_fee(amount, bps), int)


@pytest.mark.parametrize(("amount", "bps"), [(-1, 100), (100, -1), (100, 10_001)])
def test_platform_fee_refuses_nonsense(amount, bps):
    with pytest.raises(ValueError):
        platform_fee(amount, bps)


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (1_234_567, "NGN", "₦12,345.67"), (5, "NGN", "₦0.05"), (-250, "USD", "-$2.50"), (100, "EUR", "EUR 1.00"),
])
def test_format_amount(amount, currency, text):
    assert format_amount(amount, currency) == text


def item(seller: str, product: str, price: int, quantity: int, fee: int) -> SimpleNamespace:
    return SimpleNamespace(seller_id=seller, product_id=product, unit_price=price, quantity=quantity, fee=fee)


def test_a_purchase_plan_balances_and_pays_each_seller_their_lines_less_the_fee():
    items = [item("s1", "p2", 1_000, 2, 50), item("s2", "p1", 500, 1, 12), item("s1", "p3", 300, 1, 7)]
    txn = SimpleNamespace(id="txn_1", amount=2_800)
    plan = plan_purchase(txn, items, "w_buyer", {"s1": "w_s1", "s2": "w_s2"}, "fees")
    legs = {leg.account_id: leg.amount for leg in plan.legs}
    assert legs == {"w_buyer": -2_800, "w_s1": 2_300 - 57, "w_s2": 500 - 12, "fees": 69}
    assert sum(legs.values()) == 0
    assert plan.stock == [("p1", 1), ("p2", 2), ("p3", 1)], "stock rows are taken in a fixed order"
