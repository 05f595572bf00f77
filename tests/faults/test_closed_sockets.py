"""Frames on their way to sockets that are closing (the server closed them, the client has not finished
the closing handshake) are dropped quietly: daphne's log gets no "Attempt to send on a closed protocol"
traceback, and the process goes on serving."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from channels.layers import get_channel_layer

from imsubsystem.events import group_conversation
from switchboard_client import widget_tokens
from tests.factories import InboxFactory, QueueFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 15
FRAMES_EACH = 40


async def _customer_in_a_conversation(ws_url: str, origin: str, token: str):
    ws = await websockets.connect(f"{ws_url}/ws/v1/widget/", origin=origin)
    await ws.send(json.dumps({"type": "auth", "token": token, "after_seq": 0}))
    while json.loads(await ws.recv())["type"] != "ready":
        pass
    await ws.send(json.dumps({"type": "message.send", "client_id": "c1", "text": "hello"}))
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "message.ack":
            return ws, frame["message"]["conversation_id"]


async def _leave_abruptly_while_frames_arrive(base: str) -> None:
    tokens = await widget_tokens(base, "shop", CUSTOMERS)
    ws_url = base.replace("http", "ws")
    customers = [await _customer_in_a_conversation(ws_url, base, token) for token in tokens]
    layer = get_channel_layer()
    for ws, conversation_id in customers:
        # The client stops reading (a page being left, a stalled network) while the server closes the
        # socket (here as after a channel-layer reset): the closing handshake stays open.
        ws.transport.pause_reading()
        await layer.group_send(group_conversation(conversation_id), {"type": "sb.layer_reset"})
    await asyncio.sleep(0.5)
    for n in range(FRAMES_EACH):
        for _, conversation_id in customers:
            frame = {
                "type": "typing",
                "conversation_id": conversation_id,
                "active": bool(n % 2),
                "sender": {"kind": "agent", "name": "Alex"},
            }
            await layer.group_send(
                group_conversation(conversation_id),
                {"type": "sb.event", "frame": frame, "hide_from_customer": False, "origin": None},
            )
    await asyncio.sleep(2)
    for ws, _ in customers:
        ws.transport.abort()
    # The process still serves a newcomer.
    [token] = await widget_tokens(base, "shop", 1)
    ws, _ = await _customer_in_a_conversation(ws_url, base, token)
    await ws.close()


def test_frames_for_sockets_that_just_closed_are_dropped_without_a_traceback(start_cluster):
    InboxFactory(key="shop", kind="web", default_queue=QueueFactory(name="Support"), config={})
    cluster = start_cluster(daphnes=1, env={"LOG_LEVEL": "INFO"})
    asyncio.run(_leave_abruptly_while_frames_arrive(cluster.base))
    log = (cluster.workdir / f"daphne-{cluster.ports[0]}.log").read_text(errors="replace")
    assert "closed protocol" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
