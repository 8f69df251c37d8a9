"""services.passwords: bcrypt with a SHA-256 pre-hash, configurable cost, no timing oracle."""

from __future__ import annotations

import bcrypt
import pytest

from services import passwords
from services.passwords import fingerprint, hash_password, verify_password

ROUNDS = 4


def test_round_trip():
    stored = hash_password("correct horse battery", ROUNDS)
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


@pytest.mark.parametrize("rounds", [4, 5])
def test_cost_is_configurable(rounds):
    stored = hash_password("pw-12345678", rounds)
    assert stored.startswith(f"$2b$0{rounds}$") and len(stored) == 60
    assert verify_password("pw-12345678", stored)


def test_hashes_are_salted():
    first, second = hash_password("same password", ROUNDS), hash_password("same password", ROUNDS)
    assert first != second
    assert verify_password("same password", first) and verify_password("same password", second)


def test_bytes_beyond_72_still_count():
    common = "x" * 72
    first, second = common + "first-tail", common + "second-tail"
    assert len(first.encode()) > 72
    stored = hash_password(first, ROUNDS)
    assert verify_password(first, stored)
    assert not verify_password(second, stored)
    assert not verify_password(common, stored)
    assert not verify_password(second, hash_password(common + "first-tail!", ROUNDS))


def test_multibyte_passwords_beyond_72_bytes_still_count():
    common = "\u043f\u0430\u0440\u043e\u043b\u044c" * 12  # Cyrillic: 144 bytes of UTF-8
    first, second = common + "\u0430", common + "\u0431"
    assert len(common.encode()) == 144
    stored = hash_password(first, ROUNDS)
    assert verify_password(first, stored)
    assert not verify_password(second, stored)


def test_nul_bytes_do_not_truncate():
    stored = hash_password("abc\x00defghij", ROUNDS)
    assert verify_password("abc\x00defghij", stored)
    assert not verify_password("abc\x00zzzzzzz", stored)
    assert not verify_password("abc", stored)


def test_unknown_user_never_verifies():
    assert not verify_password("dummy-password-for-timing", None, ROUNDS)
    assert not verify_password("anything", None, ROUNDS)


@pytest.mark.parametrize("broken", ["", "not-a-bcrypt-hash", "$2b$04$short"])
def test_broken_stored_hash_is_false_not_an_error(broken):
    assert not verify_password("anything", broken, ROUNDS)


def test_unknown_user_costs_one_check_at_the_configured_cost(monkeypatch):
    """The dummy check must be as slow as a real one, or the response time tells which emails exist."""
    checked: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(passwords.bcrypt, "checkpw", spy)
    for rounds in (4, 6):
        checked.clear()
        assert not verify_password("whatever", None, rounds)
        assert len(checked) == 1 and checked[0].startswith(f"$2b$0{rounds}$".encode())


def test_fingerprint_follows_the_hash():
    stored = hash_password("pw-12345678", ROUNDS)
    assert fingerprint(stored) == fingerprint(stored)
    assert len(fingerprint(stored)) == 16 and int(fingerprint(stored), 16) >= 0
    assert fingerprint(stored) != fingerprint(hash_password("pw-12345678", ROUNDS))
