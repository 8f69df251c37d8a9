"""Sliding-window counters in Redis (login failures, email-sending requests)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class SlidingWindow:
    client: redis.Redis
    namespace: str
    name: str
    limit: int
    window_seconds: int

    def _key(self, subject: str) -> str:
        # Hash the subject (an email) so no address sits in Redis in clear text.
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"{self.namespace}:throttle:{self.name}:{digest}"

    def retry_after(self, subject: str) -> int:
        """Seconds until one more event is allowed; 0 when it is allowed now."""
        key, now = self._key(subject), time.time()
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(key, 0, now - self.window_seconds)
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.zcard(key)
        _, oldest, count = pipe.execute()
        if count < self.limit:
            return 0
        return max(1, int(oldest[0][1] + self.window_seconds - now) + 1)

    def hit(self, subject: str) -> None:
        key, now = self._key(subject), time.time()
        pipe = self.client.pipeline()
        pipe.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
        pipe.expire(key, self.window_seconds)
        pipe.execute()

    def reset(self, subject: str) -> None:
        self.client.delete(self._key(subject))
