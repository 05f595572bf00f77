"""The embedded default's layer (realtime/memory.py): Channels' walk for expired messages and memberships
runs at most once every CLEAN_EVERY_S, not on every receive and group_send, and still expires."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from realtime import memory
from realtime.memory import MemoryChannelLayer


def test_the_walk_over_every_channel_runs_once_for_a_burst_of_messages(monkeypatch):
    walks = []
    walk = InMemoryChannelLayer._clean_expired
    monkeypatch.setattr(InMemoryChannelLayer, "_clean_expired", lambda self: walks.append(1) or walk(self))
    layer = MemoryChannelLayer(capacity=2000)

    async def burst():
        channels = [await layer.new_channel() for _ in range(50)]
        for channel in channels:
            await layer.group_add("conversation.1", channel)
        for n in range(100):
            await layer.group_send("conversation.1", {"type": "message.new", "n": n})
        return [await layer.receive(channel) for channel in channels]

    received = asyncio.run(burst())
    assert [m["n"] for m in received] == [0] * 50
    # 100 sends and 50 receives: one walk (Channels' own layer walks 150 times, each over all 50 channels).
    assert len(walks) == 1


@pytest.mark.parametrize("expired", ["message", "membership"])
def test_expiry_still_happens_at_the_next_walk(monkeypatch, expired):
    layer = MemoryChannelLayer(capacity=10, expiry=60, group_expiry=86400)
    clock = [1000.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: clock[0])

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        await layer.send(channel, {"type": "x"})
        layer._clean_expired()  # a walk: nothing has expired yet
        assert channel in layer.groups["g"] and channel in layer.channels
        if expired == "message":
            queue = layer.channels[channel]._queue
            queue[0] = (0.0, queue[0][1])  # past its expiry
        else:
            layer.groups["g"][channel] = 1.0  # joined long before group_expiry
        layer._clean_expired()  # within CLEAN_EVERY_S of the last walk: not walked yet
        assert channel in layer.groups["g"]
        clock[0] += memory.CLEAN_EVERY_S
        layer._clean_expired()
        return channel

    channel = asyncio.run(scenario())
    assert channel not in layer.groups.get("g", {})
    if expired == "message":
        assert channel not in layer.channels
