"""config.Settings.from_env: what production refuses to start with, and the development defaults."""

from __future__ import annotations

import pytest

from config import DEV_SECRET_KEY, ConfigError, Settings

PRODUCTION_KEY = "p" * 16 + "0123456789abcdef"  # 32 characters


def prod(**env: str) -> dict[str, str]:
    return {"APP_ENV": "production", "SECRET_KEY": PRODUCTION_KEY, **env}


def test_production_with_a_private_key_starts():
    settings = Settings.from_env(prod())
    assert settings.is_production and settings.secret_key == PRODUCTION_KEY
    assert settings.bcrypt_rounds == 12


def test_app_env_defaults_to_production():
    with pytest.raises(ConfigError):
        Settings.from_env({})
    assert Settings.from_env({"SECRET_KEY": PRODUCTION_KEY}).is_production


@pytest.mark.parametrize("env", [
    {"APP_ENV": "production"},
    {"APP_ENV": "production", "SECRET_KEY": ""},
])
def test_production_refuses_a_missing_secret_key(env):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(env)


def test_production_refuses_the_dev_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(prod(SECRET_KEY=DEV_SECRET_KEY))


def test_production_refuses_a_short_key():
    with pytest.raises(ConfigError, match="32"):
        Settings.from_env(prod(SECRET_KEY="x" * 31))
    assert Settings.from_env(prod(SECRET_KEY="x" * 32)).secret_key == "x" * 32


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_development_and_test_run_without_a_secret_key(app_env):
    settings = Settings.from_env({"APP_ENV": app_env})
    assert settings.secret_key == DEV_SECRET_KEY and not settings.is_production


def test_development_uses_a_given_key():
    assert Settings.from_env({"APP_ENV": "development", "SECRET_KEY": "short"}).secret_key == "short"


def test_unknown_app_env_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        Settings.from_env({"APP_ENV": "staging", "SECRET_KEY": PRODUCTION_KEY})


@pytest.mark.parametrize("name", ["PORT", "PLATFORM_FEE_BPS", "RECONCILE_INTERVAL_SECONDS",
                                  "RECONCILE_AFTER_SECONDS", "BCRYPT_ROUNDS"])
@pytest.mark.parametrize("value", ["abc", "1.5", "10k", "0x10"])
def test_bad_integers_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(prod(**{name: value}))


@pytest.mark.parametrize("value", ["-1", "10001", "99999"])
def test_platform_fee_out_of_range_is_refused(value):
    with pytest.raises(ConfigError, match="PLATFORM_FEE_BPS"):
        Settings.from_env(prod(PLATFORM_FEE_BPS=value))


@pytest.mark.parametrize("value", ["0", "250", "10000"])
def test_platform_fee_in_range_is_accepted(value):
    assert Settings.from_env(prod(PLATFORM_FEE_BPS=value)).platform_fee_bps == int(value)


def test_bcrypt_rounds_bounds_and_test_default():
    assert Settings.from_env({"APP_ENV": "test"}).bcrypt_rounds == 4
    assert Settings.from_env(prod(BCRYPT_ROUNDS="10")).bcrypt_rounds == 10
    for bad in ("3", "32"):
        with pytest.raises(ConfigError, match="BCRYPT_ROUNDS"):
            Settings.from_env(prod(BCRYPT_ROUNDS=bad))


def test_reconcile_interval_must_be_positive():
    with pytest.raises(ConfigError, match="RECONCILE_INTERVAL_SECONDS"):
        Settings.from_env(prod(RECONCILE_INTERVAL_SECONDS="0"))


def test_empty_values_mean_defaults_and_urls_lose_trailing_slashes():
    settings = Settings.from_env(prod(PORT="", PLATFORM_FEE_BPS="", PUBLIC_BASE_URL="https://shop.example/",
                                      PAYSTACK_BASE_URL="http://127.0.0.1:9/"))
    assert settings.port == 8000 and settings.platform_fee_bps == 0
    assert settings.public_base_url == "https://shop.example"
    assert settings.paystack_base_url == "http://127.0.0.1:9"


def test_identity_defaults_match_the_contract():
    settings = Settings.from_env(prod())
    assert settings.confirm_token_ttl_seconds == 48 * 3600
    assert settings.reset_token_ttl_seconds == 3600
    assert settings.login_max_failures == 5 and settings.login_window_seconds == 15 * 60
    assert settings.access_token_ttl_seconds == 900
