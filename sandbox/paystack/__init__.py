"""A stateful Paystack emulator served over real HTTP, for the dev stack and for tests.

Run it with ``python -m sandbox.paystack --port 8099 --webhook-url http://127.0.0.1:8000/webhooks/paystack``.
It never imports the application: it only speaks Paystack's wire format.
"""
