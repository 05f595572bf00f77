"""In-process layers: the embedded default, and a recording layer for tests.

MemoryChannelLayer is Channels' InMemoryChannelLayer with the switch's named methods (realtime/protocol.py):
one process, no Redis, not for production (no delivery between processes). Channels' layer walks every
channel's queue and every group's members for expired entries on each `receive` and `group_send`: with
a few hundred sockets that walk was a third of the embedded server's time under load (docs/performance.md),
so ours walks at most once every CLEAN_EVERY_S. Expiry (Channels' `expiry`, 60 s, and `group_expiry`, a
day) then happens up to that much later; nothing else changes.

RecordingChannelLayer records every group_send (async or blocking) and passes everything on to the
layer it wraps: a new MemoryChannelLayer by default, or the configured layer, so a test sees what was
published on whichever backend runs (tests/imsubsystem/conftest.py's frame_log).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from realtime.protocol import SwitchLayer, direct_layer

CLEAN_EVERY_S = 1.0  # how often the in-memory layer looks for expired messages and memberships


class MemoryChannelLayer(InMemoryChannelLayer):
    """CHANNEL_LAYERS backend of the embedded default (CONFIG: Channels' `capacity`, `expiry`)."""

    pipelined = True  # no connection to run out of

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_clean = 0.0

    def _clean_expired(self) -> None:
        """Channels' walk over every queue and membership, at most once every CLEAN_EVERY_S (it runs on
        every receive and group_send otherwise: O(sockets) per message)."""
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + CLEAN_EVERY_S
        super()._clean_expired()

    def group_send_blocking(self, group: str, message: dict[str, Any]) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            async_to_sync(self.group_send)(group, message)
            return
        # Sync code on a thread that owns a running loop (a sync library driving its own loop) cannot
        # block on async_to_sync there: send from a helper thread instead.
        with ThreadPoolExecutor(max_workers=1) as helper:
            helper.submit(async_to_sync(self.group_send), group, message).result(timeout=10)

    def channel_forget(self, channel: str) -> None:
        self.channels.pop(channel, None)
        self._remove_from_groups(channel)
        for group in [g for g, members in self.groups.items() if not members]:
            del self.groups[group]


class RecordingChannelLayer:
    """A layer that records every group_send, in order, as (group, message) in `sent` (and tells
    `on_send`, when given, as it happens), and delivers through `inner`."""

    def __init__(
        self, inner: SwitchLayer | None = None, *, on_send: Callable[[str, dict[str, Any]], None] | None = None
    ) -> None:
        self.inner: SwitchLayer = inner if inner is not None else MemoryChannelLayer(capacity=2000)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.on_send = on_send
        self.pipelined = self.inner.pipelined

    def record(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append((group, message))
        if self.on_send is not None:
            self.on_send(group, message)

    async def new_channel(self, prefix: str = "specific.") -> str:
        return await self.inner.new_channel(prefix)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self.inner.send(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        return await self.inner.receive(channel)

    async def group_add(self, group: str, channel: str) -> None:
        await self.inner.group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self.inner.group_discard(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.record(group, message)
        await self.inner.group_send(group, message)

    def group_send_blocking(self, group: str, message: dict[str, Any]) -> None:
        self.record(group, message)
        self.inner.group_send_blocking(group, message)

    def channel_forget(self, channel: str) -> None:
        self.inner.channel_forget(channel)

    async def flush(self) -> None:
        await self.inner.flush()


class DirectRecordingChannelLayer(RecordingChannelLayer):
    """RecordingChannelLayer over a DirectLayer (ours), keeping its DirectLayer members, so the sockets
    and the publisher take the same path under the recording as without it."""

    async def new_channel_into(self, sink: Any, prefix: str = "specific.") -> str:
        return await self.inner.new_channel_into(sink, prefix)

    def take(self, channel: str) -> list[dict[str, Any]]:
        return self.inner.take(channel)

    def group_send_nowait(self, group: str, message: dict[str, Any]) -> None:
        self.record(group, message)
        self.inner.group_send_nowait(group, message)


def recording(
    inner: SwitchLayer, *, on_send: Callable[[str, dict[str, Any]], None] | None = None
) -> RecordingChannelLayer:
    """A recording layer over `inner`, a DirectLayer when `inner` is one."""
    kind = DirectRecordingChannelLayer if direct_layer(inner) is not None else RecordingChannelLayer
    return kind(inner, on_send=on_send)
