"""Sliding-window counters in Redis (login failures, email-sending requests)."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

import redis

# KEYS[1] the window; ARGV: now, window seconds, limit, a unique member. Returns nil when the
# event was recorded, else the score (time) of the oldest event still in the window.
_ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return nil
end
return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
"""


@dataclass(frozen=True)
class SlidingWindow:
    client: redis.Redis
    namespace: str
    name: str
    limit: int
    window_seconds: int

    @functools.cached_property
    def _acquire_script(self) -> redis.commands.core.Script:
        return self.client.register_script(_ACQUIRE_LUA)

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

    def acquire(self, subject: str) -> int:
        """Record one event if the window has room for it, as one atomic step (so parallel callers
        cannot all slip under the limit): 0 when recorded, otherwise the seconds until one more
        is allowed, and nothing is recorded."""
        now = time.time()
        oldest = self._acquire_script(keys=[self._key(subject)], args=[
            f"{now:.6f}", self.window_seconds, self.limit, f"{now:.6f}:{secrets.token_hex(4)}",
        ])
        if oldest is None:
            return 0
        return max(1, int(float(oldest) + self.window_seconds - now) + 1)

    def reset(self, subject: str) -> None:
        self.client.delete(self._key(subject))
