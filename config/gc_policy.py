"""Garbage collection for a serving process: full collections that walk only what is new.

CPython's full (generation 2) collection walks every container object the collector tracks. In a daphne
process holding hundreds of sockets that is some hundred thousand objects (each socket's protocol,
transport, consumer, scope, tasks), and each full collection stopped the process for 40-100 ms while it
relayed 2,000 messages a second: the relay benchmark's p99 was those pauses (docs/performance.md).

`install()` freezes what survives each full collection (`gc.freeze`: moved to the permanent generation,
which collections skip), so the next full collection walks only the objects made since. Objects that are
not in reference cycles are still freed by reference counting as soon as they are unused, frozen or not;
what a frozen object can no longer do is be collected as part of a cycle. So every `full_every_s`
seconds (settings.GC_FULL_COLLECT_EVERY_S, 300 by default; 0 turns the policy off) a thread unfreezes
everything and collects in full once: one pause of the old length every few minutes instead of one
every few seconds under load, and cyclic garbage (a closed socket's objects) kept at most that long.

config/asgi.py installs it for the processes that serve; Celery workers and commands keep CPython's
defaults. tests/config/test_gc_policy.py checks both halves.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state = {"installed": False, "in_full": False, "full_collections": 0}


def _after_collection(phase: str, info: dict) -> None:
    if phase == "stop" and info.get("generation") == 2 and not _state["in_full"]:
        gc.freeze()  # the survivors of a full collection are long-lived: later ones skip them


def full_collect() -> int:
    """Unfreeze, collect everything once (cycles among objects frozen earlier included), freeze again.
    Returns the number of objects collected."""
    with _lock:
        _state["in_full"] = True
        try:
            gc.unfreeze()
            started = time.perf_counter()
            collected = gc.collect()
            pause_ms = (time.perf_counter() - started) * 1000
        finally:
            _state["in_full"] = False
        gc.freeze()
        _state["full_collections"] += 1
    logger.info("Full garbage collection: %d objects collected in %.1f ms", collected, pause_ms)
    return collected


def _every(interval_s: float) -> None:
    while True:
        time.sleep(interval_s)
        try:
            full_collect()
        except Exception:  # never let the collector's thread die
            logger.exception("Full garbage collection failed")


def install(full_every_s: float) -> bool:
    """Freeze after each full collection, and collect in full every `full_every_s` seconds (idempotent;
    False and CPython's defaults with `full_every_s` 0)."""
    if full_every_s <= 0:
        return False
    with _lock:
        if _state["installed"]:
            return True
        _state["installed"] = True
    gc.callbacks.append(_after_collection)
    threading.Thread(target=_every, args=(full_every_s,), name="sb-gc-full", daemon=True).start()
    return True


def installed() -> bool:
    return _state["installed"]
