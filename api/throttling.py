"""Rate limits of the integrator API: one budget per token (per user for the staff pages' session calls),
`settings.API_RATE_LIMIT` calls per period ("600/min").

Counted in a fixed window in Django's cache, like the project's other HTTP rate limits
(imsubsystem/ratelimit.py): Redis in production, so every server process counts against the one budget;
this process's memory in the embedded default (one process). `cache.add` then `cache.incr` are atomic on
Redis, so two processes never both take the last call of a window. A caller over the budget gets 429
`rate_limited` with `Retry-After` (the seconds to the next window) in the one error shape (api/errors.py).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

from api.models import ApiToken

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" -> (600, 60): calls, seconds."""
    try:
        calls, period = rate.split("/", 1)
        return int(calls), _PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"API_RATE_LIMIT={rate!r} is not like '600/min' (per s, min or hour).") from None


def caller_key(request) -> str | None:
    """Whose budget a call draws on: its token, or its user for a session; None before authentication."""
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


class ApiRateThrottle(BaseThrottle):
    """The one rate limit of every API view (api/views/base.py adds it; a view cannot leave it out)."""

    def __init__(self) -> None:
        self.limit, self.period = parse_rate(settings.API_RATE_LIMIT)
        self.remaining: int | None = None
        self.reset_s = 0

    def allow_request(self, request, view) -> bool:
        who = caller_key(request)
        if who is None:  # the permission refuses it already; nothing to count
            return True
        now = time.time()
        window = int(now // self.period)
        self.reset_s = max(1, int((window + 1) * self.period - now + 0.999))
        bucket = f"api:rl:{who}:{self.period}:{window}"
        if cache.add(bucket, 1, timeout=self.period + 1):
            count = 1
        else:
            try:
                count = cache.incr(bucket)
            except ValueError:  # expired between add and incr: a new window
                cache.add(bucket, 1, timeout=self.period + 1)
                count = 1
        self.remaining = max(0, self.limit - count)
        return count <= self.limit

    def wait(self) -> float:
        return float(self.reset_s)
