"""``max_concurrency`` per function: a lease per running execution.

With Redis (``FUNCTION_RUNNER_REDIS_URL``) the leases live in one sorted set per function
shared by every replica (score = lease expiry, so a crashed replica's leases lapse); without
it, or while Redis is unreachable, each process counts its own.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

_log = logging.getLogger(__name__)

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class Lease:
    def __init__(self, slug: str, token: str, remote: bool) -> None:
        self.slug = slug
        self.token = token
        self.remote = remote


class ConcurrencyLimiter:
    def __init__(self, redis: Redis | None = None, key_prefix: str = "function-runner") -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self._local: dict[str, int] = {}
        self._acquire_script = redis.register_script(_ACQUIRE) if redis is not None else None

    @property
    def backend(self) -> Literal["redis", "local"]:
        return "redis" if self.redis is not None else "local"

    def _key(self, slug: str) -> str:
        return f"{self.key_prefix}:concurrency:{slug}"

    async def acquire(self, slug: str, limit: int, lease_seconds: float) -> Lease | None:
        """A lease, or ``None`` when ``limit`` executions of ``slug`` already run."""
        token = uuid.uuid4().hex
        if self._acquire_script is not None:
            now_ms = int(time.time() * 1000)
            expiry_ms = now_ms + int(lease_seconds * 1000)
            try:
                granted = await self._acquire_script(
                    keys=[self._key(slug)],
                    args=[now_ms, limit, expiry_ms, token, int(lease_seconds * 1000) + 60_000],
                )
            except RedisError as exc:
                _log.warning(
                    "redis unavailable for concurrency limits; counting in this process",
                    extra={"error": type(exc).__name__},
                )
            else:
                return Lease(slug, token, remote=True) if granted == 1 else None
        if self._local.get(slug, 0) >= limit:
            return None
        self._local[slug] = self._local.get(slug, 0) + 1
        return Lease(slug, token, remote=False)

    async def release(self, lease: Lease) -> None:
        if lease.remote and self.redis is not None:
            try:
                await self.redis.zrem(self._key(lease.slug), lease.token)
            except RedisError:
                _log.warning("could not release a concurrency lease; it lapses on its own")
            return
        remaining = self._local.get(lease.slug, 0) - 1
        if remaining > 0:
            self._local[lease.slug] = remaining
        else:
            self._local.pop(lease.slug, None)

    async def running(self, slug: str) -> int:
        if self.redis is not None:
            try:
                await self.redis.zremrangebyscore(self._key(slug), "-inf", int(time.time() * 1000))
                return int(await self.redis.zcard(self._key(slug)))
            except RedisError:
                pass
        return self._local.get(slug, 0)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
