"""Fixed-window counters for login/register rate limits: Redis when configured (shared
across replicas), in-process otherwise (embedded mode, one process)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class Hit:
    allowed: bool
    count: int
    retry_after_s: int


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> Hit: ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = asyncio.Lock()
        self._clock = clock

    async def hit(self, key: str, limit: int, window_s: int) -> Hit:
        async with self._lock:
            now = self._clock()
            started, count = self._windows.get(key, (now, 0))
            if now - started >= window_s:
                started, count = now, 0
            count += 1
            self._windows[key] = (started, count)
            if len(self._windows) > 100_000:
                self._prune(now, window_s)
            retry = max(1, math.ceil(started + window_s - now))
            return Hit(count <= limit, count, retry)

    def _prune(self, now: float, window_s: int) -> None:
        for key, (started, _) in list(self._windows.items()):
            if now - started >= window_s:
                del self._windows[key]

    async def reset(self, key: str) -> None:
        async with self._lock:
            self._windows.pop(key, None)

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "admin-api:rl:") -> None:
        self.redis = redis
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "admin-api:rl:") -> RedisRateLimiter:
        return cls(Redis.from_url(url), prefix)

    async def hit(self, key: str, limit: int, window_s: int) -> Hit:
        name = self.prefix + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_s, nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        retry = max(1, math.ceil(int(ttl_ms) / 1000)) if int(ttl_ms) > 0 else window_s
        return Hit(int(count) <= limit, int(count), retry)

    async def reset(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)

    async def close(self) -> None:
        await self.redis.aclose()
