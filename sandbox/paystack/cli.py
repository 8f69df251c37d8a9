"""`python -m sandbox.paystack`: parse options, serve until SIGTERM/SIGINT, then stop cleanly."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from sandbox.paystack.app import Sandbox, create_app
from sandbox.paystack.server import build_server
from sandbox.paystack.settings import DEFAULT_RETRY_DELAYS, DEV_SECRET_KEY, Settings, parse_delays

log = logging.getLogger("sandbox.paystack")


def _http_url(value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value


def _delays(value: str) -> tuple[float, ...]:
    try:
        return parse_delays(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.paystack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--webhook-url", type=_http_url, help="where to POST signed webhook events")
    parser.add_argument("--public-url", type=_http_url,
                        help="base of checkout links (default: the Host each initialize call came in on)")
    parser.add_argument("--store", help="SQLite file that keeps state across restarts (default: in memory)")
    parser.add_argument("--webhook-retry-delays", type=_delays, default=DEFAULT_RETRY_DELAYS,
                        help="seconds between delivery retries, e.g. 0.2,0.5,1,2 (default: 1,5,30,120,600)")
    parser.add_argument("--webhook-timeout", type=float, default=5.0, help="seconds per delivery attempt")
    parser.add_argument("--transfer-delay", type=float, default=1.0,
                        help="seconds before a pending transfer settles (and before a reversal)")
    parser.add_argument("--balance", type=int, default=1_000_000_000, help="initial NGN balance in kobo")
    parser.add_argument("--merchant-name", default="Marketplace (sandbox)")
    parser.add_argument("--log-level", default="INFO")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        secret_key=os.environ.get("PAYSTACK_SECRET_KEY") or DEV_SECRET_KEY,
        webhook_url=args.webhook_url, public_url=args.public_url, store_path=args.store,
        webhook_retry_delays=args.webhook_retry_delays, webhook_timeout=args.webhook_timeout,
        transfer_delay=args.transfer_delay, initial_balance=args.balance, merchant_name=args.merchant_name,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(args)
    sandbox = Sandbox(settings)
    server = build_server(args.host, args.port, create_app(sandbox))
    sandbox.start()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    log.info("Paystack sandbox on http://%s:%s (webhooks: %s, store: %s)", host, port,
             settings.webhook_url or "off", settings.store_path or "memory")
    if settings.secret_key == DEV_SECRET_KEY:
        log.info("using the dev-only default secret key; set PAYSTACK_SECRET_KEY to choose another")
    while not stopping.wait(0.5):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    sandbox.stop()
    return 0
