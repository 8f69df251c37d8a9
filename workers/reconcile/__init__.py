"""Reconciliation actors (queue "reconcile"): ledger audit, provider reconciliation, housekeeping.
The logic is in services/reconcile; the scheduler enqueues these with the id of a queued run."""
