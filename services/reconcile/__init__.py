"""Reconciliation: the safety net that makes lost webhooks, lost messages, crashed workers and
provider hiccups converge without a person.

- stuck: finds non-final transactions, unsent emails and missing receipts, and re-drives them
  through the normal actors (with per-transaction backoff, flagging after too many attempts).
- audit: the ledger invariants, incrementally (cost follows new entries) and fully once a day.
- provider: our succeeded fundings and withdrawals matched one to one with the provider's records.
- sweep: expired idempotency keys, stray receipt files, old run records.
- runs: every run recorded for operators; alerts raised for what needs a person.
- lock: the Redis lock that makes one scheduler the active one.
- metrics: a Prometheus collector reading all of the above from the database at scrape time.

The scheduler only finds work and enqueues; the audit, provider and sweep work runs in
workers/reconcile actors.
"""
