"""A real Dramatiq worker (`dramatiq tests.support.hang_worker`) whose purchase settlement stops for
good right after writing its ledger posting, before its transaction commits. Tests kill it there:
a worker killed mid-settle. It writes the posting id to $HANG_MARKER when it gets there."""

from __future__ import annotations

import os
import time
from pathlib import Path

import workers.main  # noqa: F401 - the broker and every actor, as in the real worker
from models.ledger import Posting
from services import settlement

_post = settlement.post


def _post_then_hang(*args: object, **kwargs: object) -> Posting:
    posting = _post(*args, **kwargs)
    Path(os.environ["HANG_MARKER"]).write_text(posting.id)
    time.sleep(600)
    return posting


settlement.post = _post_then_hang
