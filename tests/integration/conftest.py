"""Fixtures shared by the integration tests of the Paystack sandbox itself."""

from tests.support.paystack_sandbox import api, clean_sandbox, receiver

__all__ = ["api", "clean_sandbox", "receiver"]
