"""A smaller input queue for every connection daphne serves.

daphne gives each connection's application an `asyncio.Queue` to read from (`receive`), which Twisted's
side fills with `put_nowait`. An idle `asyncio.Queue` holds four deques (its items, its getters, its
putters, and an Event's waiters) of about 760 bytes each: some 3 KB for every open socket doing
nothing. `InputQueue` does the same two things, `put_nowait` and `get`, with no container at all while
it is empty and no one waits (docs/performance.md, the idle sockets).

config/asgi.py installs it when daphne serves the app (`install`): daphne's server module gets an
`asyncio` whose `Queue` is this one; everything else is asyncio's own.
"""

from __future__ import annotations

import asyncio
import types
from collections import deque
from typing import Any


class InputQueue:
    """An unbounded FIFO with `put_nowait` (any thread of the loop's, as asyncio.Queue) and `get`."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque | None = None  # made by the first put, dropped when emptied
        self._getters: list[asyncio.Future] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_one()

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def _wake_one(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if not getters:
            self._getters = None

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if self._getters and getter in self._getters:
                    self._getters.remove(getter)
                    if not self._getters:
                        self._getters = None
                if self._items and not getter.cancelled():
                    # Woken, then cancelled before it could take the item: the next getter gets it.
                    self._wake_one()
                raise
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class _AsyncioWithInputQueue(types.ModuleType):
    """asyncio, except that `Queue` is InputQueue."""

    Queue = InputQueue

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def install() -> None:
    """Make daphne's server build InputQueues for its connections (idempotent; no-op without daphne)."""
    try:
        from daphne import server
    except ImportError:  # pragma: no cover - daphne is a runtime dependency
        return
    if not isinstance(server.asyncio, _AsyncioWithInputQueue):
        server.asyncio = _AsyncioWithInputQueue("asyncio")
