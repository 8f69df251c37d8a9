"""The whole money path over HTTP on the Procfile processes (gunicorn web, Dramatiq worker) with
the Paystack and Mailgun sandboxes: fund -> pay on checkout -> webhook -> credited -> buy ->
seller credited -> bank account -> withdraw -> transfer webhook -> paid. Ledger audited each step."""

from __future__ import annotations

from tests.support import inbox
from tests.support.money import assert_ledger_clean, fund, signed_in_user


def test_fund_buy_withdraw(web, worker, stack, deps, client):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    seller = signed_in_user(web, "seller@example.com", deps)

    funded = fund(buyer, stack.paystack_url, 500_000)
    assert funded["status"] == "succeeded" and funded["kind"] == "funding"
    assert buyer.wallet() == {"currency": "NGN", "balance": 500_000, "held": 0, "available": 500_000}
    assert_ledger_clean()
    inbox.wait_for_message(stack.mailgun_url, "buyer@example.com", "funding")

    product = seller.post("/v1/products", {"name": "Kettle", "description": "Boils", "price": 120_000, "stock": 3},
                          key="")
    assert product.status_code == 201, product.text
    purchase = buyer.post("/v1/purchases", {"product_id": product.json()["id"], "quantity": 2})
    assert purchase.status_code == 202, purchase.text
    settled = buyer.wait_status(purchase.json()["id"], "succeeded", "failed")
    assert settled["status"] == "succeeded", settled
    assert settled["amount"] == 240_000 and settled["unit_price"] == 120_000 and settled["quantity"] == 2
    assert buyer.wallet()["balance"] == 260_000
    assert seller.wallet()["balance"] == 240_000
    assert seller.get(f"/v1/transactions/{settled['id']}").status_code == 200, "the seller sees the sale"
    assert seller.get(f"/v1/products/{product.json()['id']}").json()["stock"] == 1
    assert_ledger_clean()
    inbox.wait_for_message(stack.mailgun_url, "seller@example.com", "sale")

    banks = seller.get("/v1/banks").json()["data"]
    account = seller.post("/v1/bank-accounts", {"bank_code": banks[0]["code"], "account_number": "0123456789"},
                          key="")
    assert account.status_code == 201, account.text
    assert account.json()["account_name"]
    withdrawal = seller.post("/v1/withdrawals", {"amount": 200_000, "bank_account_id": account.json()["id"]})
    assert withdrawal.status_code == 202, withdrawal.text
    paid = seller.wait_status(withdrawal.json()["id"], "succeeded", "failed")
    assert paid["status"] == "succeeded", paid
    assert seller.wallet() == {"currency": "NGN", "balance": 40_000, "held": 0, "available": 40_000}
    assert_ledger_clean()
    inbox.wait_for_message(stack.mailgun_url, "seller@example.com", "withdrawal")

    entries = seller.get("/v1/wallet/entries").json()["data"]
    assert [e["amount"] for e in entries] == [-200_000, 240_000]
    assert [e["balance_after"] for e in entries] == [40_000, 240_000]
