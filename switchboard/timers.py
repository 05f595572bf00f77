"""The embedded default's stand-in for Celery beat: one timer loop in the server process.

The embedded default (no Redis) runs Celery tasks eagerly and has no beat. `beat_start` starts a daemon
thread that first runs the tasks of `INPROCESS_AT_START` once (what a new process must do, as the console
presence that lived in the one before is gone), then every entry of `CELERY_BEAT_SCHEDULE` at its
interval, by task name from Celery's registry: the same periodic jobs beat runs in production (outbox
sweep, routing's offers, overflow and console presence, the bots' watchdog and timers, media sweeps). An
app adds a periodic job once, to the schedule, and both profiles run it.

The loop runs where `INPROCESS_TIMERS` is on (by default in the embedded default, no `REDIS_URL`): the
ASGI entry point calls `serving_start`. The tests of the production profile run Celery eagerly and
inline, and start the loop themselves when they need it. Tasks are found by their registered names. The
embedded default's other stand-in, the background workers apps hand tasks to, is `core/inprocess.py`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from config.celery import app

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_beat_started = False


def _schedule_seconds(entry: dict[str, Any]) -> float:
    schedule = entry["schedule"]
    seconds = getattr(schedule, "total_seconds", None)
    return float(seconds() if callable(seconds) else schedule)


def _due_entries(schedule: dict[str, dict[str, Any]], only: Iterable[str] | None) -> list[tuple[str, str, float]]:
    wanted = set(only) if only is not None else None
    return [
        (key, entry["task"], _schedule_seconds(entry))
        for key, entry in schedule.items()
        if wanted is None or key in wanted
    ]


def _beat_run(stop: threading.Event, tick_s: float, only: Iterable[str] | None, scale: float) -> None:
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker imports them at start
    if only is None:
        for name in getattr(settings, "INPROCESS_AT_START", ()):
            close_old_connections()
            try:
                app.tasks[name].apply(throw=True)
            except Exception:
                logger.exception("start-up task %s failed", name)
    entries = _due_entries(settings.CELERY_BEAT_SCHEDULE, only)
    next_at = {key: time.monotonic() + interval * scale for key, _, interval in entries}
    while not stop.wait(tick_s):
        now = time.monotonic()
        for key, name, interval in entries:
            if now < next_at[key]:
                continue
            next_at[key] = now + interval * scale
            task = app.tasks.get(name)
            if task is None:
                logger.error("timer %s: no task named %s", key, name)
                continue
            close_old_connections()
            try:
                task.apply(throw=True)
            except Exception:  # the loop must outlive a bad round (database restarting, one broken item)
                logger.exception("timer %s (%s) failed", key, name)
        close_old_connections()


def beat_start(
    *,
    stop: threading.Event | None = None,
    tick_s: float = 0.25,
    only: Iterable[str] | None = None,
    scale: float = 1.0,
) -> bool:
    """Start the timer loop once per process; returns whether this call started it. `only` limits it to
    some schedule keys and `scale` multiplies every interval (both for tests)."""
    global _beat_started
    with _lock:
        if _beat_started:
            return False
        _beat_started = True
    thread = threading.Thread(
        target=_beat_run, args=(stop or threading.Event(), tick_s, only, scale), name="inprocess-beat", daemon=True
    )
    thread.start()
    return True


def serving_start() -> bool:
    """Called once by the ASGI entry point: starts the timer loop in a server process of the embedded
    default (`INPROCESS_TIMERS` and eager Celery), never under pytest, migrate or shell."""
    if "pytest" in sys.modules or not getattr(settings, "INPROCESS_TIMERS", False):
        return False
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    return beat_start()


def beat_reset_for_tests() -> None:
    global _beat_started
    with _lock:
        _beat_started = False
