"""A measurement, not a test (not collected: its name does not start with test_): N agents' sends through
the console socket's path in one process, real MySQL and Redis, printed as CPU time per message (this
process's, every thread: the sockets, the batcher, the database driver) and wall time. Run it on two trees
alternately to compare them (docs/performance.md):

    set -a; . tests/test.env; set +a
    .venv/bin/pytest tests/imsubsystem/perf_agent_sends.py -q -s -p no:cacheprovider

PERF_AGENTS (20) consoles each send PERF_SENDS (25) messages one after the other (each awaits its ack, as
the console's outbox does), all consoles at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from channels.db import database_sync_to_async

from imsubsystem import services
from imsubsystem.models import Message
from tests.factories import ContactFactory
from tests.imsubsystem.conftest import receive_until, send, staff_communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _conversation_of(inbox, agent_id: int) -> int:
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="help")
    services.conversation_assign(conversation_id=message["conversation_id"], agent_id=agent_id)
    return message["conversation_id"]


async def test_measure_agent_sends(inbox, make_agent, settings):
    settings.IM_MESSAGE_RATE_LIMITS = {"agent": {"burst": 100000, "per_s": 100000}}
    agents, sends = int(os.environ.get("PERF_AGENTS", 20)), int(os.environ.get("PERF_SENDS", 25))
    consoles = []
    for n in range(agents):
        user = await database_sync_to_async(make_agent)(f"perf-{n}", capacity=5)
        conversation_id = await database_sync_to_async(_conversation_of)(inbox, user.pk)
        communicator = await database_sync_to_async(staff_communicator)(user)
        connected, _ = await communicator.connect()
        assert connected
        await receive_until(communicator, "agent.ready")
        consoles.append((communicator, conversation_id))

    async def console_sends(communicator, conversation_id: int, n: int) -> None:
        for m in range(sends):
            frame = {"type": "message.send", "conversation_id": conversation_id, "client_id": f"{n}-{m}", "text": "ok"}
            await send(communicator, frame)
            await receive_until(communicator, "message.ack", timeout=30)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(console_sends(c, conversation_id, n) for n, (c, conversation_id) in enumerate(consoles)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stored = await database_sync_to_async(Message.objects.filter(sender_kind="agent").count)()
    assert stored == agents * sends
    total = agents * sends
    print(
        json.dumps(
            {
                "name": "agent_sends.inprocess",
                "messages": total,
                "cpu_ms_per_msg": round(cpu * 1000 / total, 3),
                "wall_s": round(wall, 2),
                "msg_per_s": round(total / wall, 1),
                "loadavg_1m": os.getloadavg()[0],
            }
        )
    )
    for communicator, _ in consoles:
        await communicator.disconnect()


def test_measure_customer_batches(inbox, monkeypatch):
    """The write path alone: PERF_BATCHES (60) batches of 20 customers' messages through
    customer_messages_send_many, CPU and wall time per batch (medians of the batches). PERF_TEXT is the
    messages' text ("hi"); PERF_NO_SEARCH_INDEX=1 leaves out the search tokens' INSERT, to measure what it
    costs (docs/imsubsystem.md, "Search")."""
    if os.environ.get("PERF_NO_SEARCH_INDEX") == "1":
        monkeypatch.setattr("imsubsystem.services.messages.message_tokens_insert", lambda messages: 0)
    text = os.environ.get("PERF_TEXT", "hi")
    opened = []
    for _ in range(20):
        contact = ContactFactory()
        message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hello")
        opened.append((contact.pk, message["conversation_id"]))
    times, walls = [], []
    for b in range(int(os.environ.get("PERF_BATCHES", 60))):
        requests = [
            {
                "inbox_id": inbox.pk,
                "contact_id": c,
                "conversation_id": v,
                "text": f"{text} {b}",
                "client_id": f"{b}-{c}",
            }
            for c, v in opened
        ]
        cpu, wall = time.process_time(), time.perf_counter()
        results = services.customer_messages_send_many(requests=requests)
        times.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
        assert all(r.get("created") for r in results)
    times.sort()
    walls.sort()
    print(
        json.dumps(
            {
                "name": "customer_batch.inprocess",
                "batch": 20,
                "search_index": os.environ.get("PERF_NO_SEARCH_INDEX") != "1",
                "text_chars": len(text),
                "cpu_ms_median": round(times[len(times) // 2] * 1000, 2),
                "wall_ms_median": round(walls[len(walls) // 2] * 1000, 2),
            }
        )
    )
