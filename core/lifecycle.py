"""Where this process is in its life: serving, or draining before it stops (a rolling restart).

A daphne process told to stop (SIGTERM) drains (config/daphne_drain.py): it stops accepting, closes its
sockets so their clients reconnect to another process, lets what is in flight finish and exits. Its
readiness answer (`/healthz/ready`) says 503 from the moment the drain begins, so a load balancer that
probes it sends nothing more its way. Nothing here imports an app.
"""

from __future__ import annotations

import time

_drain_started: float | None = None


def draining() -> bool:
    """This process was told to stop and is draining."""
    return _drain_started is not None


def drain_begin() -> bool:
    """Mark the process draining; False when it already was."""
    global _drain_started
    if _drain_started is not None:
        return False
    _drain_started = time.monotonic()
    return True


def drain_seconds_so_far() -> float | None:
    return None if _drain_started is None else time.monotonic() - _drain_started


def reset() -> None:
    """Serving again (tests only: a real process that drained exits)."""
    global _drain_started
    _drain_started = None
