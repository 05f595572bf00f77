"""Timers in the embedded default: no Celery beat there, so one daemon thread per server process calls
the same service beat calls in production (`routing_tick`), once a second."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

logger = logging.getLogger(__name__)
_started = False
_lock = threading.Lock()


def _run(interval_s: float, stop: threading.Event) -> None:
    from routing import services

    try:
        # The console presence of this profile lives in this process: a new process knows no console,
        # so every agent counted connected gets the grace to reconnect (consoles do at once).
        close_old_connections()
        services.agent_consoles_expect()
    except Exception:
        logger.exception("console presence reset failed")
    while not stop.wait(interval_s):
        try:
            close_old_connections()
            services.routing_tick()
        except Exception:  # the ticker must outlive a bad tick (database restarting, a bug in one item)
            logger.exception("routing tick failed")


def inprocess_timers_start(*, interval_s: float = 1.0, stop: threading.Event | None = None) -> bool:
    """Start the ticker once per process (until `stop` is set); returns whether this call started it."""
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    stop = stop or threading.Event()
    threading.Thread(target=_run, args=(interval_s, stop), name="routing-timers", daemon=True).start()
    return True
