"""Routing fixtures: a fresh backend per test (memory by default; the contract suite runs Redis too)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from routing import hooks
from routing.backends import channel_kinds, set_backend
from routing.backends.memory import MemoryBackend


@pytest.fixture(autouse=True)
def memory_backend():
    backend = MemoryBackend(channel_kinds=channel_kinds())
    previous = set_backend(backend)
    yield backend
    set_backend(previous)


@pytest.fixture(autouse=True)
def routing_hooks_muted():
    """Routing's own tests run without the switch's and the bots' subscribers (they need conversations
    to exist): every routing hook starts with no subscriber, and gets its own back after the test."""
    with ExitStack() as stack:
        for hook in hooks.ALL:
            stack.enter_context(hook.replaced())
        yield
