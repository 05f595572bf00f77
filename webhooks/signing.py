"""The signature on every delivery: `X-Switchboard-Signature: t=<unix seconds>,v1=<hex>`, where the hex
is HMAC-SHA256 of "<t>.<body>" keyed with the subscription's secret (the scheme Stripe uses). The
receiver recomputes it over the raw body, compares in constant time and refuses an old `t` (a replay).
docs/webhooks.md carries the same check as a script a receiver can copy."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Switchboard-Signature"
DEFAULT_TOLERANCE_S = 300


def signature_make(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def signature_verify(*, secret: str, body: bytes, header: str, tolerance_s: int = DEFAULT_TOLERANCE_S) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance_s` of now."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))
