"""A fixed list of Nigerian banks, and deterministic account-name resolution for the sandbox.

Known test accounts resolve to fixed names; any other 10-digit number resolves to a name derived
from a hash of (bank, number), so the same account always gets the same holder.
"""

from __future__ import annotations

import hashlib
from typing import Any

_BANK_TIMESTAMP = "2016-07-14T10:04:29.000Z"

# (id, name, slug, code, longcode, gateway, pay_with_bank)
_NIGERIAN_BANKS: tuple[tuple[int, str, str, str, str, str | None, bool], ...] = (
    (1, "Access Bank", "access-bank", "044", "044150149", "emandate", False),
    (3, "Citibank Nigeria", "citibank-nigeria", "023", "023150005", None, False),
    (4, "Ecobank Nigeria", "ecobank-nigeria", "050", "050150010", None, False),
    (6, "Fidelity Bank", "fidelity-bank", "070", "070150003", "emandate", False),
    (7, "First Bank of Nigeria", "first-bank-of-nigeria", "011", "011151003", "ibank", False),
    (8, "First City Monument Bank", "first-city-monument-bank", "214", "214150018", "emandate", False),
    (9, "Guaranty Trust Bank", "guaranty-trust-bank", "058", "058152036", "ibank", True),
    (10, "Heritage Bank", "heritage-bank", "030", "030159992", None, False),
    (11, "Keystone Bank", "keystone-bank", "082", "082150017", None, False),
    (67, "Kuda Bank", "kuda-bank", "50211", "", "digitalbankmandate", True),
    (303, "Moniepoint MFB", "moniepoint-mfb-ng", "50515", "", None, False),
    (171, "OPay Digital Services Limited (OPay)", "paycom", "999992", "999992", None, True),
    (172, "PalmPay", "palmpay", "999991", "999991", None, False),
    (13, "Polaris Bank", "polaris-bank", "076", "076151006", None, False),
    (14, "Providus Bank", "providus-bank", "101", "", None, False),
    (15, "Stanbic IBTC Bank", "stanbic-ibtc-bank", "221", "221159522", None, False),
    (16, "Standard Chartered Bank", "standard-chartered-bank", "068", "068150015", None, False),
    (17, "Sterling Bank", "sterling-bank", "232", "232150016", "emandate", False),
    (18, "Union Bank of Nigeria", "union-bank-of-nigeria", "032", "032080474", "emandate", False),
    (19, "United Bank For Africa", "united-bank-for-africa", "033", "033153513", "emandate", True),
    (20, "Unity Bank", "unity-bank", "215", "215154097", "emandate", False),
    (21, "Wema Bank", "wema-bank", "035", "035150103", None, False),
    (22, "Zenith Bank", "zenith-bank", "057", "057150013", "emandate", True),
)

KNOWN_ACCOUNTS: dict[str, str] = {
    "0001234567": "JOHN DOE",
    "0123456789": "ADAEZE CHIOMA OKAFOR",
    "1234567890": "TUNDE ADEBAYO BELLO",
}
UNRESOLVABLE = "0000000000"
RESOLVE_ERROR = "Could not resolve account name. Check parameters or try again."

_FIRST_NAMES = ("AMAKA", "BOLA", "CHINEDU", "DAMILOLA", "EMEKA", "FUNMI", "IFEOMA", "KELECHI",
                "NGOZI", "OLUWASEUN", "SEGUN", "TEMITOPE", "UCHE", "YETUNDE", "ZAINAB", "IBRAHIM")
_LAST_NAMES = ("ADEYEMI", "BALOGUN", "EZE", "IBE", "MUSA", "NWOSU", "OBI", "OKONKWO",
               "OLADIPO", "OYELARAN", "SANI", "UDEH", "YUSUF", "ABUBAKAR", "ALADE", "ONYEKACHI")


def _as_document(row: tuple[int, str, str, str, str, str | None, bool]) -> dict[str, Any]:
    bank_id, name, slug, code, longcode, gateway, pay_with_bank = row
    return {
        "id": bank_id, "name": name, "slug": slug, "code": code, "longcode": longcode, "gateway": gateway,
        "pay_with_bank": pay_with_bank, "supports_transfer": True, "available_for_direct_debit": False,
        "active": True, "is_deleted": False, "country": "Nigeria", "currency": "NGN", "type": "nuban",
        "createdAt": _BANK_TIMESTAMP, "updatedAt": _BANK_TIMESTAMP,
    }


def nigerian_banks() -> list[dict[str, Any]]:
    return [_as_document(row) for row in _NIGERIAN_BANKS]


def bank_by_code(code: str) -> dict[str, Any] | None:
    return next((bank for bank in nigerian_banks() if bank["code"] == code), None)


def resolve_account_name(account_number: str, bank_code: str) -> str | None:
    """The holder's name, or None where Paystack would answer 'Could not resolve account name'."""
    if bank_by_code(bank_code) is None or len(account_number) != 10 or not account_number.isdigit():
        return None
    if account_number == UNRESOLVABLE:
        return None
    if account_number in KNOWN_ACCOUNTS:
        return KNOWN_ACCOUNTS[account_number]
    digest = hashlib.sha256(f"{bank_code}:{account_number}".encode()).digest()
    return f"{_FIRST_NAMES[digest[0] % len(_FIRST_NAMES)]} {_LAST_NAMES[digest[1] % len(_LAST_NAMES)]}"
