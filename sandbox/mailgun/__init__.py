"""A standalone Mailgun v3 send-API emulator with a browsable inbox, for the dev stack and tests.

Run it with ``python -m sandbox.mailgun --port P``; it never imports the application.
"""

from sandbox.mailgun.app import create_app
from sandbox.mailgun.send import Settings
from sandbox.mailgun.store import MessageStore

__all__ = ["MessageStore", "Settings", "create_app"]
