"""The Paystack sandbox over real HTTP: every endpoint's happy path and documented errors, the hosted
checkout, and response bodies checked against Paystack's own OpenAPI document."""

from __future__ import annotations

import copy
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator, validate

from sandbox.paystack.testing import SandboxApi, WebhookReceiver
from tests.support.paystack_sandbox import KEY
from tests.support.procs import PROJECT_ROOT, wait_until

SPEC_PATH = PROJECT_ROOT.parent / "shared" / "reference" / "paystack-openapi.yaml"


pytestmark = pytest.mark.usefixtures("clean_sandbox")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Paystack OpenAPI document not found at {SPEC_PATH}")
    return yaml.load(SPEC_PATH.read_text(), Loader=yaml.CSafeLoader)  # libyaml: 5x faster than safe_load


def assert_documented(spec: dict[str, Any], path: str, method: str, status: int, body: Any,
                      components: dict[str, Any] | None = None) -> None:
    """Validate `body` against the schema the document gives for that operation and status code."""
    response = spec["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response["content"]["application/json"]["schema"]
    validate(body, {**schema, "components": components or spec["components"]}, cls=OAS30Validator,
             check_schema=False)


def form_actions(page: requests.Response) -> dict[str, str]:
    """{'pay': url, 'decline': url} from the checkout page's plain HTML forms, as a browser resolves them."""
    actions = re.findall(r'<form method="post" action="([^"]+)"', page.text)
    return {action.rsplit("/", 1)[-1]: urljoin(page.url, action) for action in actions}


# --- auth and health ---------------------------------------------------------------------------


def test_health_needs_no_key(api: SandboxApi) -> None:
    response = api.get("/healthz", auth=False)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer sk_test_wrong", "Basic abc", KEY])
def test_a_missing_or_wrong_key_is_refused_like_paystack(api: SandboxApi, spec: dict[str, Any],
                                                        header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = api.session.get(f"{api.base_url}/transaction", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"status": False, "message": "Invalid key"}
    assert_documented(spec, "/transaction", "get", 401, response.json())


# --- transactions ------------------------------------------------------------------------------


def test_initialize_returns_a_checkout_link_on_this_sandbox(api: SandboxApi, spec: dict[str, Any]) -> None:
    response = api.post("/transaction/initialize", {"email": "buyer@example.com", "amount": 123456,
                                                    "reference": "ord-1", "metadata": {"order": 1}})
    assert response.status_code == 200
    body = response.json()
    assert_documented(spec, "/transaction/initialize", "post", 200, body)
    data = body["data"]
    assert data["reference"] == "ord-1"
    assert data["authorization_url"] == f"{api.base_url}/checkout/{data['access_code']}"


def test_an_unpaid_transaction_verifies_as_abandoned(api: SandboxApi, spec: dict[str, Any]) -> None:
    api.initialize("ord-2", amount=5000)
    response = api.get("/transaction/verify/ord-2")
    assert_documented(spec, "/transaction/verify/{reference}", "get", 200, response.json())
    data = response.json()["data"]
    assert (data["status"], data["amount"], data["currency"], data["paid_at"]) == ("abandoned", 5000, "NGN", None)
    assert data["customer"]["email"] == "buyer@example.com"
    assert data["customer"]["customer_code"].startswith("CUS_")


def test_initialize_takes_a_numeric_string_amount_a_form_body_and_makes_a_reference(api: SandboxApi) -> None:
    response = api.post("/transaction/initialize", data={"email": "form@example.com", "amount": "250000"})
    assert response.status_code == 200, response.text
    reference = response.json()["data"]["reference"]
    assert re.fullmatch(r"[a-z0-9]{10}", reference)
    assert api.verify(reference)["amount"] == 250000


@pytest.mark.parametrize(("body", "message"), [
    ({"amount": 5000}, "Invalid Email Address Passed"),
    ({"email": "not-an-email", "amount": 5000}, "Invalid Email Address Passed"),
    ({"email": "a@example.com"}, "Invalid Amount Sent"),
    ({"email": "a@example.com", "amount": 100.5}, "Invalid Amount Sent"),
    ({"email": "a@example.com", "amount": "12.50"}, "Invalid Amount Sent"),
    ({"email": "a@example.com", "amount": -5}, "Invalid Amount Sent"),
    ({"email": "a@example.com", "amount": 5000, "currency": "EUR"}, "Currency not supported by merchant"),
])
def test_initialize_refuses_invalid_input_with_400(api: SandboxApi, body: dict[str, Any], message: str) -> None:
    response = api.post("/transaction/initialize", body)
    assert response.status_code == 400
    assert response.json()["status"] is False
    assert response.json()["message"] == message


def test_initialize_refuses_a_reference_with_illegal_characters(api: SandboxApi) -> None:
    response = api.post("/transaction/initialize", {"email": "a@example.com", "amount": 5000, "reference": "a/b"})
    assert response.status_code == 400
    assert "reference" in response.json()["message"].lower()


def test_a_duplicate_reference_is_refused_and_keeps_the_first(api: SandboxApi, spec: dict[str, Any]) -> None:
    api.initialize("dup-1", amount=1000)
    response = api.post("/transaction/initialize", {"email": "b@example.com", "amount": 9999, "reference": "dup-1"})
    assert response.status_code == 400
    assert response.json()["message"] == "Duplicate Transaction Reference"
    assert_documented(spec, "/transaction/initialize", "post", 400, response.json())
    assert api.verify("dup-1")["amount"] == 1000


def test_verify_of_an_unknown_reference(api: SandboxApi) -> None:
    response = api.get("/transaction/verify/never-made")
    assert response.status_code == 400
    assert response.json()["status"] is False
    assert response.json()["message"] == "Transaction reference not found"


def test_fetch_a_transaction_by_id(api: SandboxApi) -> None:
    # Not checked against the document: its fetch schema was cut from one sample (it requires
    # metadata.custom_fields and non-null customer names), so it fits no general transaction.
    api.initialize("by-id")
    verified = api.verify("by-id")
    response = api.get(f"/transaction/{verified['id']}")
    assert response.status_code == 200
    assert response.json()["data"] == verified
    assert api.get("/transaction/999").status_code == 404


# --- hosted checkout -------------------------------------------------------------------------


def test_checkout_pay_redirects_to_the_callback_and_sends_charge_success(
        api: SandboxApi, receiver: WebhookReceiver, spec: dict[str, Any]) -> None:
    callback = receiver.url.replace("/webhooks/paystack", "/paid?order=7")
    link = api.initialize("chk-1", amount=123456, callback_url=callback)["authorization_url"]

    page = api.session.get(link, timeout=5)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert "₦1,234.56" in page.text
    assert "buyer@example.com" in page.text
    actions = form_actions(page)
    assert set(actions) == {"pay", "decline"}

    landed = api.session.post(actions["pay"], timeout=5)
    assert landed.history[0].status_code == 303
    assert landed.status_code == 200
    assert parse_qs(urlsplit(landed.url).query) == {"order": ["7"], "trxref": ["chk-1"], "reference": ["chk-1"]}
    assert receiver.visits() == ["/paid?order=7&trxref=chk-1&reference=chk-1"]

    verified = api.get("/transaction/verify/chk-1").json()
    assert_documented(spec, "/transaction/verify/{reference}", "get", 200, verified)
    assert verified["data"]["status"] == "success"
    assert verified["data"]["paid_at"] is not None
    assert verified["data"]["gateway_response"] == "Successful"
    deliveries = receiver.wait_for(lambda got: len(got) == 1)
    assert deliveries[0].event == "charge.success"
    assert deliveries[0].payload["data"]["reference"] == "chk-1"


def test_paying_twice_changes_nothing(api: SandboxApi) -> None:
    link = api.initialize("chk-twice")["authorization_url"]
    pay = form_actions(api.session.get(link, timeout=5))["pay"]
    first = api.session.post(pay, allow_redirects=False, timeout=5)
    paid_at = api.verify("chk-twice")["paid_at"]
    second = api.session.post(pay, allow_redirects=False, timeout=5)
    assert first.status_code == second.status_code == 303
    assert api.verify("chk-twice")["paid_at"] == paid_at
    assert api.pay("chk-twice")["paid_at"] == paid_at
    assert [e["event"] for e in api.webhook_log()] == ["charge.success"]


def test_without_a_callback_the_customer_sees_payment_complete(api: SandboxApi) -> None:
    link = api.initialize("chk-nocb")["authorization_url"]
    pay = form_actions(api.session.get(link, timeout=5))["pay"]
    landed = api.session.post(pay, timeout=5)
    assert landed.url == link
    assert "Payment complete" in landed.text
    assert form_actions(landed) == {}


def test_checkout_decline_fails_the_payment_without_a_webhook(api: SandboxApi) -> None:
    link = api.initialize("chk-decline", callback_url="http://127.0.0.1:9/never")["authorization_url"]
    decline = form_actions(api.session.get(link, timeout=5))["decline"]
    landed = api.session.post(decline, timeout=5)
    assert landed.url == link
    assert "declined" in landed.text
    data = api.verify("chk-decline")
    assert (data["status"], data["paid_at"], data["gateway_response"]) == ("failed", None, "Declined")
    assert api.webhook_log() == []
    # The customer may try again with another card, as on Paystack's checkout.
    assert api.pay("chk-decline")["status"] == "success"


def test_an_unknown_checkout_link_is_a_404_page(api: SandboxApi) -> None:
    response = api.session.get(f"{api.base_url}/checkout/nosuchcode", timeout=5)
    assert response.status_code == 404
    assert "invalid or has expired" in response.text


def test_control_endpoints_pay_and_decline_without_a_browser(api: SandboxApi) -> None:
    api.initialize("ctl-1")
    api.initialize("ctl-2")
    assert api.pay("ctl-1")["status"] == "success"
    assert api.control("POST", "/transactions/ctl-2/decline")["status"] == "failed"
    refused = api.request("POST", "/_sandbox/transactions/ctl-1/decline", auth=False)
    assert refused.status_code == 409
    missing = api.request("POST", "/_sandbox/transactions/nope/pay", auth=False)
    assert missing.status_code == 400
    assert missing.json()["message"] == "Transaction reference not found"


# --- listing ---------------------------------------------------------------------------------


def test_list_transactions_with_paging_and_filters(api: SandboxApi, spec: dict[str, Any]) -> None:
    for index, amount in enumerate((1000, 2000, 3000)):
        api.initialize(f"lst-{index}", amount=amount)
    api.pay("lst-0")
    api.pay("lst-2")

    first = api.get("/transaction", params={"perPage": 2, "page": 1}).json()
    assert [tx["reference"] for tx in first["data"]] == ["lst-2", "lst-1"]
    assert first["meta"] == {"total": 3, "skipped": 0, "perPage": 2, "page": 1, "pageCount": 2,
                             "total_volume": 4000}
    second = api.get("/transaction", params={"perPage": 2, "page": 2}).json()
    assert [tx["reference"] for tx in second["data"]] == ["lst-0"]

    paid = api.get("/transaction", params={"status": "success"}).json()
    assert [tx["reference"] for tx in paid["data"]] == ["lst-2", "lst-0"]
    assert_documented(spec, "/transaction", "get", 200, paid)

    today = datetime.now(UTC).date()
    window = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    assert api.get("/transaction", params=window).json()["meta"]["total"] == 3
    later = {"from": (today + timedelta(days=1)).isoformat()}
    assert api.get("/transaction", params=later).json()["meta"]["total"] == 0


def test_list_items_with_an_unpaid_transaction_match_the_document_but_for_paidAt(
        api: SandboxApi, spec: dict[str, Any]) -> None:
    api.initialize("lst-unpaid")
    body = api.get("/transaction").json()
    assert body["data"][0]["paidAt"] is None
    # The document types a list item's paidAt as a non-null string, which an unpaid transaction
    # cannot honestly fill (verify's schema makes it nullable); relax exactly that one field.
    components = copy.deepcopy(spec["components"])
    components["schemas"]["TransactionListResponseArray"]["properties"]["paidAt"]["nullable"] = True
    assert_documented(spec, "/transaction", "get", 200, body, components)


@pytest.mark.parametrize("params", [{"status": "weird"}, {"from": "yesterday"}, {"perPage": "abc"},
                                    {"page": 0}])
def test_list_transactions_refuses_bad_parameters(api: SandboxApi, params: dict[str, Any]) -> None:
    response = api.get("/transaction", params=params)
    assert response.status_code == 400
    assert response.json()["status"] is False


# --- banks -----------------------------------------------------------------------------------


def test_list_nigerian_banks(api: SandboxApi, spec: dict[str, Any]) -> None:
    body = api.get("/bank", params={"country": "nigeria", "currency": "NGN"}).json()
    assert_documented(spec, "/bank", "get", 200, body)
    by_code = {bank["code"]: bank for bank in body["data"]}
    assert by_code["058"]["name"] == "Guaranty Trust Bank"
    assert {bank["type"] for bank in body["data"]} == {"nuban"}
    assert all(bank["active"] and bank["currency"] == "NGN" for bank in body["data"])
    assert api.get("/bank", params={"country": "ghana"}).json()["data"] == []


def test_bank_list_pages_with_a_cursor(api: SandboxApi) -> None:
    first = api.get("/bank", params={"perPage": 5}).json()
    assert len(first["data"]) == 5
    second = api.get("/bank", params={"perPage": 5, "next": first["meta"]["next"]}).json()
    assert len(second["data"]) == 5
    assert not {b["code"] for b in first["data"]} & {b["code"] for b in second["data"]}
    assert second["meta"]["previous"] is not None


def test_resolve_a_known_test_account(api: SandboxApi, spec: dict[str, Any]) -> None:
    response = api.get("/bank/resolve", params={"account_number": "0123456789", "bank_code": "058"})
    assert response.status_code == 200
    assert_documented(spec, "/bank/resolve", "get", 200, response.json())
    assert response.json()["data"]["account_name"] == "ADAEZE CHIOMA OKAFOR"
    assert response.json()["data"]["account_number"] == "0123456789"


def test_any_other_ten_digit_account_resolves_to_a_stable_name(api: SandboxApi) -> None:
    params = {"account_number": "2233445566", "bank_code": "044"}
    names = {api.get("/bank/resolve", params=params).json()["data"]["account_name"] for _ in range(2)}
    assert len(names) == 1
    assert re.fullmatch(r"[A-Z]+ [A-Z]+", names.pop())


@pytest.mark.parametrize(("number", "code"), [("0000000000", "058"), ("012345678", "058"), ("01234567890", "058"),
                                              ("01234567ab", "058"), ("0123456789", "999"), ("", "")])
def test_unresolvable_accounts_answer_422(api: SandboxApi, number: str, code: str) -> None:
    response = api.get("/bank/resolve", params={"account_number": number, "bank_code": code})
    assert response.status_code == 422
    assert response.json() == {"status": False,
                               "message": "Could not resolve account name. Check parameters or try again."}


# --- transfer recipients and transfers -------------------------------------------------------------


def test_create_a_recipient_and_get_the_same_one_back_for_the_same_account(
        api: SandboxApi, spec: dict[str, Any]) -> None:
    body = {"type": "nuban", "name": "Seller One", "account_number": "0123456789", "bank_code": "058",
            "currency": "NGN"}
    created = api.post("/transferrecipient", body)
    assert created.status_code == 201
    assert_documented(spec, "/transferrecipient", "post", 201, created.json())
    data = created.json()["data"]
    assert data["recipient_code"].startswith("RCP_")
    assert data["details"]["account_name"] == "ADAEZE CHIOMA OKAFOR"
    assert data["details"]["bank_name"] == "Guaranty Trust Bank"
    again = api.post("/transferrecipient", body | {"name": "Renamed"})
    assert again.json()["data"]["recipient_code"] == data["recipient_code"]
    listed = api.get("/transferrecipient").json()
    assert [r["recipient_code"] for r in listed["data"]] == [data["recipient_code"]]
    assert listed["meta"]["total"] == 1


@pytest.mark.parametrize("change", [{"account_number": "0000000000"}, {"bank_code": "999"}, {"type": "mobile_money"},
                                    {"name": ""}, {"account_number": ""}])
def test_recipient_refuses_bad_details(api: SandboxApi, change: dict[str, Any]) -> None:
    body = {"type": "nuban", "name": "X", "account_number": "0123456789", "bank_code": "058"} | change
    response = api.post("/transferrecipient", body)
    assert response.status_code == 400
    assert response.json()["status"] is False


def test_a_transfer_is_queued_then_succeeds_with_a_signed_webhook(
        api: SandboxApi, receiver: WebhookReceiver, spec: dict[str, Any]) -> None:
    recipient = api.recipient()
    before = api.balance()
    created = api.transfer(recipient, "payout-0001", amount=250_000)
    assert created.status_code == 200
    assert_documented(spec, "/transfer", "post", 200, created.json())
    data = created.json()["data"]
    assert created.json()["message"] == "Transfer has been queued"
    assert (data["status"], data["amount"], data["reference"]) == ("pending", 250_000, "payout-0001")
    assert data["transfer_code"].startswith("TRF_")

    wait_until(lambda: api.transfer_status("payout-0001") == "success", timeout=5, message="transfer success")
    verified = api.get("/transfer/verify/payout-0001").json()
    assert_documented(spec, "/transfer/verify/{reference}", "get", 200, verified)
    assert verified["data"]["recipient"]["recipient_code"] == recipient
    assert verified["data"]["transferred_at"] is not None
    fetched = api.get(f"/transfer/{data['transfer_code']}").json()
    assert_documented(spec, "/transfer/{code}", "get", 200, fetched)
    assert api.balance() == before - 250_000 - fetched["data"]["fee_charged"]

    delivery = receiver.wait_for(lambda got: len(got) == 1)[0]
    assert delivery.event == "transfer.success"
    assert delivery.signed_with(KEY)
    assert delivery.payload["data"]["transfer_code"] == data["transfer_code"]


def test_list_transfers_with_filters(api: SandboxApi, spec: dict[str, Any]) -> None:
    first, second = api.recipient(), api.recipient("1234567890", "044")
    for index, recipient in enumerate((first, second, first)):
        assert api.transfer(recipient, f"lst-transfer-{index}").status_code == 200
    wait_until(lambda: api.transfer_status("lst-transfer-2") == "success", timeout=5, message="settled")
    body = api.get("/transfer", params={"perPage": 2}).json()
    assert_documented(spec, "/transfer", "get", 200, body)
    assert body["meta"] == {"total": 3, "skipped": 0, "perPage": 2, "page": 1, "pageCount": 2}
    mine = api.get("/transfer", params={"recipient": first, "status": "success"}).json()
    assert [t["reference"] for t in mine["data"]] == ["lst-transfer-2", "lst-transfer-0"]
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    assert api.get("/transfer", params={"from": tomorrow}).json()["data"] == []


def test_a_duplicate_transfer_reference_never_makes_a_second_transfer(api: SandboxApi) -> None:
    recipient = api.recipient()
    assert api.transfer(recipient, "payout-dup").status_code == 200
    balance = api.balance()
    again = api.transfer(recipient, "payout-dup", amount=999_999)
    assert again.status_code == 400
    assert again.json()["message"] == "Please provide a unique reference. Reference already exists on a transfer"
    assert again.json()["code"] == "duplicate_transfer_reference"
    assert api.get("/transfer").json()["meta"]["total"] == 1
    assert api.balance() == balance


def test_simultaneous_transfers_with_one_reference_make_one_transfer(api: SandboxApi) -> None:
    recipient = api.recipient()
    with ThreadPoolExecutor(max_workers=6) as pool:
        # A client per thread: requests.Session is not meant to be shared across threads.
        clients = [SandboxApi(api.base_url, KEY) for _ in range(6)]
        statuses = sorted(pool.map(lambda c: c.transfer(recipient, "payout-race").status_code, clients))
    assert statuses == [200, 400, 400, 400, 400, 400]
    assert api.get("/transfer").json()["meta"]["total"] == 1


def test_an_insufficient_balance_refuses_the_transfer(api: SandboxApi) -> None:
    recipient = api.recipient()
    api.control("POST", "/balance", {"amount": 100_000})
    response = api.transfer(recipient, "payout-broke", amount=100_000)  # the fee does not fit any more
    assert response.status_code == 400
    assert response.json()["message"] == "Your balance is not enough to fulfil this request"
    assert api.transfer_status("payout-broke") is None
    assert api.balance() == 100_000
    assert api.get("/balance").json()["data"] == [{"currency": "NGN", "balance": 100_000}]


@pytest.mark.parametrize("change", [{"recipient": "RCP_unknown"}, {"amount": 0}, {"amount": 10.5},
                                    {"reference": "Has Spaces"}, {"source": "card"}])
def test_transfer_refuses_bad_input(api: SandboxApi, change: dict[str, Any]) -> None:
    body = {"source": "balance", "amount": 1000, "recipient": api.recipient(), "reference": "bad-input"} | change
    response = api.post("/transfer", body)
    assert response.status_code == 400
    assert response.json()["status"] is False
    assert api.get("/transfer").json()["data"] == []


def test_verify_of_an_unknown_transfer(api: SandboxApi, spec: dict[str, Any]) -> None:
    response = api.get("/transfer/verify/never-sent")
    assert response.status_code == 404
    assert response.json()["message"] == "Transfer not found"
    assert_documented(spec, "/transfer/verify/{reference}", "get", 404, response.json())


def test_state_reset_forgets_everything(api: SandboxApi) -> None:
    api.initialize("gone")
    api.add_fault(endpoint="bank.list", status=500, count=-1)
    api.control("POST", "/balance", {"amount": 5})
    api.reset()
    assert api.get("/transaction/verify/gone").status_code == 400
    assert api.get("/bank").status_code == 200
    assert api.control("GET", "/faults") == []
    assert api.balance() == 1_000_000_000
    assert api.control("GET", "")["counts"] == {"transactions": 0, "recipients": 0, "transfers": 0,
                                                "webhook_events": 0}


def test_unknown_paths_answer_in_paystack_envelope(api: SandboxApi) -> None:
    response = api.get("/no/such/endpoint")
    assert response.status_code == 404
    assert response.json()["status"] is False


def test_the_sandbox_never_imports_the_application() -> None:
    app_packages = ("api", "models", "services", "workers", "config")
    pattern = re.compile(rf"^\s*(from|import)\s+({'|'.join(app_packages)})(\.|\s|$)", re.MULTILINE)
    sources = Path(PROJECT_ROOT / "sandbox" / "paystack").glob("*.py")
    offenders = [path.name for path in sources if pattern.search(path.read_text())]
    assert offenders == []
