"""Rate limits: a token bucket per socket (in memory: a socket lives in one process) and a fixed-window
counter per key in the shared cache for HTTP endpoints (Redis in production, so all processes count)."""

from __future__ import annotations

import time

from django.core.cache import cache


class TokenBucket:
    """`capacity` frames at once, refilled at `rate` frames a second."""

    def __init__(self, *, capacity: float, rate: float, clock=time.monotonic) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self._clock = clock
        self._updated = clock()

    def take(self, cost: float = 1.0) -> bool:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


def rate_limit_hit(*, key: str, limit: int, window_s: int) -> bool:
    """Count one hit on `key`; True while the key stays within `limit` hits per window."""
    bucket = f"rl:{key}:{int(time.time() // window_s)}"
    if cache.add(bucket, 1, timeout=window_s + 1):
        return True
    try:
        return cache.incr(bucket) <= limit
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window_s + 1)
        return True
