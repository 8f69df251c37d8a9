"""A Redis lock with expiry that one process holds and renews: `SET key token NX PX ttl` to take it,
a compare-and-extend script to keep it, compare-and-delete to give it back. Only the holder's token
can extend or release it, so a process that paused past the expiry cannot steal it back."""

from __future__ import annotations

import secrets

import redis

from services.reconcile.runs import runner_id

_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLock:
    def __init__(self, client: redis.Redis, key: str, ttl_ms: int, token: str | None = None) -> None:
        self.client, self.key, self.ttl_ms = client, key, ttl_ms
        self.token = token or f"{runner_id()}:{secrets.token_hex(4)}"
        self._extend = client.register_script(_EXTEND)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Extend the lock if it is ours, else take it if it is free. True while we hold it."""
        if self._extend(keys=[self.key], args=[self.token, self.ttl_ms]) == 1:
            return True
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> bool:
        return self._release(keys=[self.key], args=[self.token]) == 1

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
