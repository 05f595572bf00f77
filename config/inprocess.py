"""The embedded default's stand-ins for Celery beat and Celery workers, in the server process.

The embedded default (no Redis) runs Celery tasks eagerly and has no beat. Two things make it behave like
the production profile all the same:

* **One timer loop** (`beat_start`): a daemon thread that first runs the tasks of `INPROCESS_AT_START`
  once (what a new process must do, as the console presence that lived in the one before is gone), then
  every entry of `CELERY_BEAT_SCHEDULE` at its interval, by task name from Celery's registry: the same
  periodic jobs beat runs in production (outbox sweep, routing's offers, overflow and console presence,
  the bots' watchdog and timers, media sweeps). An app adds a periodic job once, to the schedule, and both
  profiles run it.
* **A small pool of background workers** (`defer`): work that production hands to a Celery worker (a
  platform send, a platform media fetch, an inbound webhook's processing) would otherwise run inline in
  the caller's thread in eager mode, so a platform that hangs would hold an agent's send until its
  timeout. `defer` runs such a task on one of `INPROCESS_WORKERS` threads instead, and the caller goes on.

The loop runs where `INPROCESS_TIMERS` is on, the workers where `INPROCESS_WORKERS` is above 0 (both by
default in the embedded default, no `REDIS_URL`); the
tests of the production profile run Celery eagerly and inline, and start the loop themselves when they
need it. Nothing here imports an app: tasks are found by their registered names.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_beat_started = False
_executor: ThreadPoolExecutor | None = None


def workers_enabled() -> bool:
    return int(getattr(settings, "INPROCESS_WORKERS", 0) or 0) > 0 and bool(settings.CELERY_TASK_ALWAYS_EAGER)


def _executor_get() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=int(settings.INPROCESS_WORKERS), thread_name_prefix="inprocess-worker"
            )
        return _executor


def _run_task(task: Any, args: tuple, kwargs: dict) -> None:
    close_old_connections()
    try:
        task.apply(args=args, kwargs=kwargs, throw=True)
    except Exception:  # one task's failure is logged and ends there, as a worker's would
        logger.exception("background task %s failed", getattr(task, "name", task))
    finally:
        close_old_connections()


def defer(task: Any, *args: Any, **kwargs: Any) -> None:
    """Run a Celery task later: `delay` where workers exist, else on the in-process pool (never inline
    in the caller's thread, so the caller's answer never waits for a platform)."""
    if not workers_enabled():
        task.delay(*args, **kwargs)
        return
    _executor_get().submit(_run_task, task, args, kwargs)


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
    from config.celery import app

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
    import sys

    if "pytest" in sys.modules or not getattr(settings, "INPROCESS_TIMERS", False):
        return False
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    return beat_start()


def beat_reset_for_tests() -> None:
    global _beat_started
    with _lock:
        _beat_started = False
