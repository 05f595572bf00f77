"""The agent socket is the console routing counts: registered on connect, refreshed while it lives,
closed however the consumer ends (a clean close, or a handler that raised)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from interface.sockets.agent import AgentConsumer
from routing import services as routing
from routing.backends import get_backend
from routing.models import AgentProfile
from tests.imsubsystem.conftest import receive_until, staff_communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _consoles(user) -> int:
    return get_backend().console_count(agent_id=user.pk, now_ms=int(timezone.now().timestamp() * 1000))


async def _open(user):
    communicator = await database_sync_to_async(staff_communicator)(user)
    assert (await communicator.connect())[0]
    await receive_until(communicator, "agent.ready")
    return communicator


async def test_each_agent_socket_counts_until_it_closes_then_the_grace_runs(make_agent, settings):
    settings.ROUTING_CONSOLE_GRACE_S = 30
    alice = await database_sync_to_async(make_agent)("alice")
    first, second = await _open(alice), await _open(alice)
    assert await database_sync_to_async(_consoles)(alice) == 2
    await first.disconnect()
    assert await database_sync_to_async(_consoles)(alice) == 1
    await second.disconnect()
    assert await database_sync_to_async(_consoles)(alice) == 0
    later = timezone.now() + timedelta(seconds=31)
    assert await database_sync_to_async(routing.agent_consoles_sweep)(now=later) == [alice.pk]
    profile = await database_sync_to_async(AgentProfile.objects.get)(user=alice)
    assert (profile.status, profile.connected) == ("available", False)
    # The next console brings the chosen status back.
    again = await _open(alice)
    profile = await database_sync_to_async(AgentProfile.objects.get)(user=alice)
    assert profile.connected is True
    await again.disconnect()


async def test_a_console_whose_consumer_crashed_is_closed_too(make_agent, monkeypatch):
    alice = await database_sync_to_async(make_agent)("alice")
    communicator = await _open(alice)
    assert await database_sync_to_async(_consoles)(alice) == 1

    async def broken(self, frame, *, hide_from_customer):
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(AgentConsumer, "deliver", broken)
    await communicator.send_input({"type": "sb.event", "frame": {"type": "queue.changed", "queue_id": 1}})
    with pytest.raises(RuntimeError):
        await communicator.wait(timeout=5)
    for _ in range(50):
        if await database_sync_to_async(_consoles)(alice) == 0:
            break
        await asyncio.sleep(0.05)
    assert await database_sync_to_async(_consoles)(alice) == 0
