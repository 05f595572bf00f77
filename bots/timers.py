"""Bot timers in the embedded default: no Celery beat there, so one daemon thread per server process calls
the services beat calls in production (the watchdog every 10 s, idle and queue updates every 30 s)."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

logger = logging.getLogger(__name__)
_started = False
_lock = threading.Lock()
WATCHDOG_EVERY_S = 10
TIMERS_EVERY = 3  # watchdog rounds between idle / queue-update sweeps


def _run(stop: threading.Event) -> None:
    from bots import services

    rounds = 0
    while not stop.wait(WATCHDOG_EVERY_S):
        rounds += 1
        try:
            close_old_connections()
            services.bot_watchdog()
            if rounds % TIMERS_EVERY == 0:
                services.idle_sweep()
                services.queue_updates_sweep()
        except Exception:  # the ticker must outlive a bad round (database restarting, one broken session)
            logger.exception("bot timers failed")


def inprocess_timers_start(*, stop: threading.Event | None = None) -> bool:
    """Start the ticker once per process (until `stop` is set); returns whether this call started it."""
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    threading.Thread(target=_run, args=(stop or threading.Event(),), name="bots-timers", daemon=True).start()
    return True
