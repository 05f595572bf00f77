"""Routing fixtures: a fresh backend per test (memory by default; the contract suite runs Redis too)."""

from __future__ import annotations

import pytest

from routing.backends import channel_kinds, set_backend
from routing.backends.memory import MemoryBackend


@pytest.fixture(autouse=True)
def memory_backend():
    backend = MemoryBackend(channel_kinds=channel_kinds())
    previous = set_backend(backend)
    yield backend
    set_backend(previous)
