"""Rate limits: a token bucket per socket for its frames (in memory: a socket lives in one process), one
token bucket per message sender shared by every transport and process (below), and a fixed-window
counter per key in the shared cache for HTTP endpoints (Redis in production, so all processes count)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence

import redis
from django.conf import settings
from django.core.cache import cache

from core.redis import redis_client
from imsubsystem.services.state import SwitchError

logger = logging.getLogger(__name__)


class TokenBucket:
    """`capacity` frames at once, refilled at `rate` frames a second. One per socket, so slotted (no
    instance dict: about 200 bytes less a socket)."""

    __slots__ = ("_clock", "_updated", "capacity", "rate", "tokens")

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


# --- Messages: one budget per sender, whatever the transport ------------------------------------------
# A customer's messages over the widget socket, the widget HTTP API, or both at once draw on one bucket
# keyed by who sends ("customer:<contact id>", "agent:<user id>", "api:<inbox id>:<sender id>"), kept
# where every process sees it (Redis in production). The first part of the key picks the limits.
DEFAULT_MESSAGE_LIMITS: dict[str, dict[str, float]] = {
    "customer": {"burst": 20, "per_s": 5},
    "agent": {"burst": 60, "per_s": 20},
    "api": {"burst": 20, "per_s": 5},
}

# One bucket per key, refilled from Redis's own clock (so several machines agree): returns 0 when a
# message may go, else the whole seconds until the next one may. Keys expire once full again.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local since = tonumber(state[2])
if tokens == nil or since == nil then
  tokens = capacity
  since = now
end
tokens = math.min(capacity, tokens + math.max(0, now - since) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return wait
"""


def customer_identity(contact_id: int) -> str:
    return f"customer:{int(contact_id)}"


def agent_identity(user_id: int) -> str:
    return f"agent:{int(user_id)}"


def api_sender_identity(inbox_id: int, sender_id: str) -> str:
    return f"api:{int(inbox_id)}:{sender_id}"


def message_limits(identity: str) -> tuple[float, float]:
    """(burst, per second) for a sender identity, from IM_MESSAGE_RATE_LIMITS over the defaults."""
    kind = identity.split(":", 1)[0]
    limits = {**DEFAULT_MESSAGE_LIMITS, **getattr(settings, "IM_MESSAGE_RATE_LIMITS", {})}
    found = limits.get(kind) or limits["customer"]
    return float(found["burst"]), float(found["per_s"])


def _limits_of(identities: Sequence[str]) -> list[tuple[float, float]]:
    """message_limits of each identity, the settings read once per kind of sender in a batch."""
    by_kind: dict[str, tuple[float, float]] = {}
    found = []
    for identity in identities:
        kind = identity.split(":", 1)[0]
        limits = by_kind.get(kind)
        if limits is None:
            limits = by_kind[kind] = message_limits(identity)
        found.append(limits)
    return found


class _MemoryBuckets:
    """The embedded default (one process): the same buckets in this process's memory."""

    def __init__(self) -> None:
        self.buckets: dict[str, TokenBucket] = {}
        self.lock = threading.Lock()

    def take_many(self, identities: Sequence[str]) -> list[int]:
        waits = []
        with self.lock:
            for identity, (burst, per_s) in zip(identities, _limits_of(identities), strict=True):
                bucket = self.buckets.get(identity)
                if bucket is None or (bucket.capacity, bucket.rate) != (burst, per_s):
                    bucket = self.buckets[identity] = TokenBucket(capacity=burst, rate=per_s)
                waits.append(0 if bucket.take() else max(1, math.ceil((1 - bucket.tokens) / per_s)))
        return waits


class _RedisBuckets:
    def __init__(self, server: dict | str, pool_size: int) -> None:
        self.errors = (redis.RedisError, OSError)
        self.client = redis_client(
            server, max_connections=pool_size, timeout=5, socket_timeout=2, socket_connect_timeout=2
        )
        self.script = self.client.register_script(_BUCKET_SCRIPT)
        self.failing_since = 0.0

    def take_many(self, identities: Sequence[str]) -> list[int]:
        try:
            return self._take_many(identities)
        except self.errors:
            # Without Redis the limit cannot be counted; messages still go (MySQL is the record, and
            # each socket's own frame bucket still holds a flood back). Logged once a minute.
            now = time.monotonic()
            if now - self.failing_since > 60:
                self.failing_since = now
                logger.exception("Message rate limits are not counted: Redis does not answer")
            return [0] * len(identities)

    def _take_many(self, identities: Sequence[str]) -> list[int]:
        if len(identities) == 1:
            burst, per_s = message_limits(identities[0])
            return [int(self.script(keys=[f"rl:msg:{identities[0]}"], args=[burst, per_s]))]
        # One round trip for a batch; each key is its own script call, so a Redis Cluster may spread them.
        with self.client.pipeline(transaction=False) as pipe:
            for identity, (burst, per_s) in zip(identities, _limits_of(identities), strict=True):
                self.script(keys=[f"rl:msg:{identity}"], args=[burst, per_s], client=pipe)
            return [int(wait) for wait in pipe.execute()]


_buckets: _MemoryBuckets | _RedisBuckets | None = None
_buckets_lock = threading.Lock()


def _message_buckets() -> _MemoryBuckets | _RedisBuckets:
    global _buckets
    if _buckets is None:
        with _buckets_lock:
            if _buckets is None:
                server = getattr(settings, "REDIS_SERVER", None)
                _buckets = _RedisBuckets(server, settings.REDIS_POOL_SIZE) if server else _MemoryBuckets()
    return _buckets


def message_rate_take_many(identities: Sequence[str]) -> list[int]:
    """Take one message from each sender's bucket (in order; a sender named twice takes two): 0 where
    the message may go, else the seconds to wait (nothing is taken then)."""
    if not identities:
        return []
    return _message_buckets().take_many(list(identities))


def message_rate_check(*, identity: str) -> None:
    """Take one message from `identity`'s bucket, or raise SwitchError("rate_limited") with the wait."""
    (wait,) = message_rate_take_many([identity])
    if wait:
        raise rate_limited_error(wait)


def rate_limited_error(wait_s: int):
    return SwitchError(
        "rate_limited", f"Too many messages: wait {wait_s} s before sending again.", retry_after_s=int(wait_s)
    )
