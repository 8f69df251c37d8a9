"""/ops/: the operators' dashboard, for admin users only.

Browsers sign in with HTTP Basic (admin email and password, the same login throttle applies);
tools may send an admin's bearer token and ask for JSON.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

import falcon

from api.pages import render, wants_html
from api.spec import operation
from models.identity import User
from services import operations
from services.errors import DomainError, NotFound, Unauthenticated

REALM = 'Basic realm="operators", charset="UTF-8"'


def operator(req: falcon.Request) -> User:
    identity = req.context.deps.identity
    scheme, _, credentials = (req.get_header("Authorization") or "").partition(" ")
    try:
        if scheme.lower() == "basic":
            email, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
            user = identity.verify_credentials(email, password)
        elif scheme.lower() == "bearer":
            user = identity.authenticate(credentials.strip())
        else:
            raise Unauthenticated("Operators sign in here.")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unauthenticated("Malformed credentials.", headers={"WWW-Authenticate": REALM}) from None
    except DomainError as exc:
        if exc.status == 401:
            exc.headers.setdefault("WWW-Authenticate", REALM)
        raise
    if not user.is_admin:
        raise NotFound()  # the dashboard does not exist for anyone else
    return user


class Dashboard:
    @operation("The operators' dashboard (admin users only; HTTP Basic or an admin's bearer token)",
               tags=("operations",), responses={"html": "The dashboard", 200: ("application/json", "The same data")},
               errors={401: ["unauthenticated", "invalid_credentials", "email_not_confirmed"],
                       404: ["not_found"], 429: ["too_many_attempts"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        operator(req)
        deps = req.context.deps
        data = operations.dashboard(deps.redis, deps.settings.redis_namespace)
        resp.cache_control = ["no-store"]
        if wants_html(req):
            render(resp, "ops.html", d=data)
        else:
            resp.media = _jsonable(data)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    return value


ROUTES = [("/ops", Dashboard())]
