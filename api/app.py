"""The Falcon application: create_app(settings, deps) for tests, get_app() for gunicorn."""

from __future__ import annotations

import falcon

from api import errors
from api.deps import Deps, build_deps
from api.middleware import DatabaseConnection, RequestContext
from api.openapi import DocsPage, OpenApiDocument, build_document
from api.resources import catalogue, identity, media, money, operators, ops
from config import Settings
from models import db
from services.jobs import BrokerDispatcher
from services.log import configure_logging
from workers.broker import make_broker

RESOURCE_ROUTES = [*identity.ROUTES, *money.ROUTES, *ops.ROUTES, *catalogue.ROUTES, *media.ROUTES, *operators.ROUTES]


def create_app(deps: Deps) -> falcon.App:
    app = falcon.App(middleware=[RequestContext(deps), DatabaseConnection()])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_form_urlencoded = False
    app.resp_options.secure_cookies_by_default = True
    errors.install(app)
    meta = [("/openapi.json", OpenApiDocument()), ("/docs", DocsPage())]
    routes = [*RESOURCE_ROUTES, *meta]
    document = build_document(routes)
    for _, page in meta:
        page.document = document
    for path, resource in routes:
        app.add_route(path, resource)
    return app


def get_app(settings: Settings | None = None) -> falcon.App:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    db.connect(settings.database_url)
    return create_app(build_deps(settings, BrokerDispatcher(make_broker(settings))))
