"""Prometheus metrics read from the database at scrape time. The reconciler's work happens in the
scheduler and worker processes, but /metrics is served by `web`: counting rows when scraped keeps
the numbers right whichever process did the work. Every query reads a small indexed range."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator

import peewee as pw
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config import Settings
from models import db
from models.reconcile import FAILED, OK, Discrepancy
from models.transactions import Alert, Transaction
from services.reconcile import runs
from services.reconcile.audit import ALERT_KIND
from services.reconcile.stuck import NON_FINAL

log = logging.getLogger(__name__)
_installed = threading.Lock()
_collector: ReconcileCollector | None = None


class ReconcileCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mkt_reconcile_metrics_up", "1 if the reconciliation metrics could be read")
        try:
            with db.connection():
                families = self._families(db.utcnow())
        except Exception as exc:  # a scrape must still answer when the database does not
            log.warning("reconcile metrics unavailable", extra={"error": type(exc).__name__})
            families = []
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _families(self, now: dt.datetime) -> list[Metric]:
        return [self._alerts(), *self._transactions(now), self._discrepancies(), *self._runs()]

    def _alerts(self) -> Metric:
        family = GaugeMetricFamily("mkt_alerts_open", "Open operator alerts by kind "
                                   f"({ALERT_KIND} = ledger audit violations)", labels=["kind"])
        counts = dict(Alert.select(Alert.kind, pw.fn.COUNT(Alert.id)).where(Alert.resolved_at.is_null())
                      .group_by(Alert.kind).tuples())
        counts.setdefault(ALERT_KIND, 0)
        for kind, count in sorted(counts.items()):
            family.add_metric([kind], count)
        return family

    def _transactions(self, now: dt.datetime) -> list[Metric]:
        open_ = GaugeMetricFamily("mkt_transactions_open", "Non-final transactions by kind and status",
                                  labels=["kind", "status"])
        stuck = GaugeMetricFamily("mkt_transactions_stuck", "Non-final transactions older than "
                                  "RECONCILE_AFTER_SECONDS, by status", labels=["status"])
        flagged = GaugeMetricFamily("mkt_transactions_flagged", "Non-final transactions flagged for operators")
        cutoff = now - dt.timedelta(seconds=self.settings.reconcile_after_seconds)
        rows = (Transaction.select(Transaction.kind, Transaction.status, pw.fn.COUNT(Transaction.id),
                                   pw.fn.SUM(pw.Case(None, [(Transaction.updated_at < cutoff, 1)], 0)),
                                   pw.fn.SUM(pw.Case(None, [(Transaction.flagged_reason.is_null(False), 1)], 0)))
                .where(Transaction.status.in_(NON_FINAL)).group_by(Transaction.kind, Transaction.status).tuples())
        stuck_by_status = dict.fromkeys(NON_FINAL, 0)
        flagged_total = 0
        for kind, status, count, old, marked in rows:
            open_.add_metric([kind, status], count)
            stuck_by_status[status] += int(old or 0)
            flagged_total += int(marked or 0)
        for status, count in stuck_by_status.items():
            stuck.add_metric([status], count)
        flagged.add_metric([], flagged_total)
        return [open_, stuck, flagged]

    def _discrepancies(self) -> Metric:
        family = GaugeMetricFamily("mkt_reconcile_discrepancies_open", "Open provider discrepancies by kind",
                                   labels=["kind"])
        for kind, count in (Discrepancy.select(Discrepancy.kind, pw.fn.COUNT(Discrepancy.id))
                            .where(Discrepancy.resolved_at.is_null()).group_by(Discrepancy.kind).tuples()):
            family.add_metric([kind], count)
        return family

    def _runs(self) -> list[Metric]:
        finished = GaugeMetricFamily("mkt_reconcile_last_run_timestamp_seconds",
                                     "When the last successful run of each reconciler job finished", labels=["job"])
        found = GaugeMetricFamily("mkt_reconcile_last_run_discrepancies",
                                  "What the last successful run of each job found (violations, mismatches, flags)",
                                  labels=["job"])
        failed = GaugeMetricFamily("mkt_reconcile_last_run_failed", "1 if the newest run of the job failed",
                                   labels=["job"])
        for job in runs.JOBS:
            last_ok = runs.latest(job, status=OK)
            if last_ok is not None and last_ok.finished_at is not None:
                finished.add_metric([job], last_ok.finished_at.replace(tzinfo=dt.UTC).timestamp())
                found.add_metric([job], last_ok.discrepancies)
            newest = runs.latest(job)
            failed.add_metric([job], 1 if newest is not None and newest.status == FAILED else 0)
        return [finished, found, failed]


def install(settings: Settings) -> None:
    """Register the collector once per process (the first scrape does it)."""
    global _collector
    with _installed:
        if _collector is None:
            _collector = ReconcileCollector(settings)
            REGISTRY.register(_collector)

