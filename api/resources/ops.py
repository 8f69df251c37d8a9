"""Health and metrics, for load balancers and operators."""

from __future__ import annotations

import logging

import falcon
import prometheus_client

from api import schemas
from api.spec import operation
from models import db
from services.reconcile import metrics as reconcile_metrics

log = logging.getLogger(__name__)
TAGS = ("operations",)


def _check_database() -> None:
    db.database.execute_sql("SELECT 1").fetchone()


class Health:
    @operation("Liveness of the API and its dependencies", tags=TAGS,
               responses={200: schemas.HealthOut, 503: schemas.HealthOut})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        probes = {"database": _check_database, "broker": req.context.deps.redis.ping}
        checks = {}
        for name, probe in probes.items():
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # a failing dependency is the answer, not an error
                log.warning("health check failed", extra={"check": name, "error": type(exc).__name__})
                checks[name] = "unavailable"
        healthy = all(value == "ok" for value in checks.values())
        resp.status = 200 if healthy else 503
        resp.media = {"status": "ok" if healthy else "unavailable", "checks": checks}


class Metrics:
    @operation("Prometheus metrics", tags=TAGS,
               responses={200: (prometheus_client.CONTENT_TYPE_LATEST, "Prometheus text format")})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reconcile_metrics.install(req.context.deps.settings)  # DB-backed gauges, registered once per process
        resp.content_type = prometheus_client.CONTENT_TYPE_LATEST
        resp.data = prometheus_client.generate_latest()


ROUTES = [("/v1/health", Health()), ("/metrics", Metrics())]
