"""A small threaded WSGI server (stdlib only): one thread per request, no access log."""

from __future__ import annotations

import socket
import socketserver
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a request stuck in an injected delay must not hold up shutdown


class _ThreadingWSGIServerV6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    # The access log would be noise in test output; it never holds credentials either way.
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(app: Callable[..., Any], host: str, port: int) -> WSGIServer:
    """Bind now (port 0 picks a free one); the caller runs serve_forever()."""
    server_class = _ThreadingWSGIServerV6 if ":" in host else _ThreadingWSGIServer
    return make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
