"""python -m sandbox.mailgun --port P [--host 127.0.0.1] [--store PATH]"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from wsgiref.simple_server import WSGIServer

from sandbox.mailgun.app import create_app
from sandbox.mailgun.send import Settings
from sandbox.mailgun.server import serve
from sandbox.mailgun.store import MessageStore

# Dev-only fallbacks: the real key never belongs in this sandbox.
DEFAULT_API_KEY = "dev-mailgun-key"
DEFAULT_DOMAIN = "sandbox.localhost"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.mailgun",
        description="Mailgun-compatible email sandbox: accepts the v3 send API and shows an inbox. "
                    "Key and domain come from MAILGUN_API_KEY and MAILGUN_DOMAIN.",
    )
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--store", metavar="PATH", help="SQLite file that keeps the inbox across restarts "
                                                        "(default: in memory)")
    return parser.parse_args(argv)


def settings_from_env() -> Settings:
    return Settings(api_key=os.environ.get("MAILGUN_API_KEY") or DEFAULT_API_KEY,
                    domain=os.environ.get("MAILGUN_DOMAIN") or DEFAULT_DOMAIN)


def _stop_on_signals(server: WSGIServer) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, which runs on this very thread: hand it off.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _banner(server: WSGIServer, settings: Settings, store: MessageStore) -> str:
    host, port = server.server_address[:2]
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    key_note = "default dev key" if settings.api_key == DEFAULT_API_KEY else "key from MAILGUN_API_KEY"
    return (f"mailgun sandbox: inbox at {base}/ · send API {base}/v3/{settings.domain}/messages "
            f"({key_note}) · store {store.location}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from_env()
    store = MessageStore(args.store)
    server = serve(create_app(settings, store), args.host, args.port)
    _stop_on_signals(server)
    print(_banner(server, settings, store), flush=True)
    if args.host not in LOOPBACK_HOSTS:
        print(f"warning: listening on {args.host}: anyone who can reach it can read the inbox", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
