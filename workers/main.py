"""Entry point of the `worker` process: `dramatiq workers.main` consumes every queue."""

from workers import runtime

broker = runtime.setup()

# Actors register themselves on the broker above as they are imported.
import workers.email.actors  # noqa: E402
import workers.payments.actors  # noqa: E402
import workers.receipts.actors  # noqa: E402
import workers.reconcile.actors  # noqa: E402, F401
