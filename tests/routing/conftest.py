"""Routing fixtures: a fresh backend per test (memory by default; the contract suite runs Redis too)."""

from __future__ import annotations

import pytest

from routing import signals
from routing.backends import channel_kinds, set_backend
from routing.backends.memory import MemoryBackend


@pytest.fixture(autouse=True)
def memory_backend():
    backend = MemoryBackend(channel_kinds=channel_kinds())
    previous = set_backend(backend)
    yield backend
    set_backend(previous)


@pytest.fixture(autouse=True)
def routing_signals_muted():
    """Routing's own tests run without the switch's receivers (they need conversations to exist)."""
    saved = {}
    for name in (
        "offer_created",
        "offer_closed",
        "work_assigned",
        "work_queued",
        "work_released",
        "queue_changed",
        "agent_status_changed",
    ):
        signal = getattr(signals, name)
        saved[signal] = signal.receivers
        signal.receivers = []
        signal.sender_receivers_cache.clear()
    yield
    for signal, receivers in saved.items():
        signal.receivers = receivers
        signal.sender_receivers_cache.clear()
