"""The embedded default's stand-in for Celery workers: a small pool of background threads.

The embedded default (no Redis) runs Celery tasks eagerly, so work that production hands to a Celery
worker (a platform send, a platform media fetch, an inbound webhook's processing) would run inline in
the caller's thread, and a platform that hangs would hold an agent's send until its timeout. `defer`
runs such a task on one of `INPROCESS_WORKERS` threads instead, and the caller goes on; where workers
exist (production, or `INPROCESS_WORKERS` at 0) it is `delay`.

Apps call `defer` as they would call `delay`; it lives here, beside the Celery app, so that apps reach it
without importing the project app. The embedded default's other stand-in, the timer loop that runs beat's
schedule, is the project's (switchboard/timers.py). Nothing here imports an app.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

_lock = threading.Lock()
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
