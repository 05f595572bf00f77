"""The sockets' own loop on our channel layer (interface/sockets/base.py, realtime.DirectLayer): one input
queue for the client's frames and the layer's messages, no Channels loop with a task per message; frames
written past Channels' session wrapper; and the write path's per-batch work (one commit callback, the
connection's health check at most once a second)."""

from __future__ import annotations

import pytest
from django.db import connections

from imsubsystem import batching, services
from imsubsystem.events import group_conversation
from interface.sockets.base import frames_send
from realtime import switch_layer
from tests.factories import ContactFactory
from tests.imsubsystem.conftest import receive_until, send, widget_communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_socket_waits_on_one_queue_for_its_client_and_the_layer(widget_session, monkeypatch):
    import channels.consumer
    import channels.utils

    def refused(*args, **kwargs):
        raise AssertionError("Channels' two-task loop ran for a socket on our layer")

    monkeypatch.setattr(channels.utils, "await_many_dispatch", refused)
    monkeypatch.setattr(channels.consumer, "await_many_dispatch", refused)
    token, _ = widget_session
    communicator = widget_communicator()
    connected, _ = await communicator.connect()
    assert connected
    await send(communicator, {"type": "auth", "token": token})
    await receive_until(communicator, "ready")
    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "hello"})
    ack = await receive_until(communicator, "message.ack")
    hub = switch_layer().inner.hub()  # the tests' recording layer over ours
    (channel,) = [c for c in hub.sinks if c in hub.channels]
    # A frame published to the conversation reaches the socket through its one queue.
    group = group_conversation(ack["message"]["conversation_id"])
    await switch_layer().group_send(
        group, {"type": "sb.event", "frame": {"type": "pong"}, "hide_from_customer": False, "group": group}
    )
    assert (await receive_until(communicator, "pong")) == {"type": "pong"}
    await communicator.disconnect()
    assert channel not in hub.sinks and channel not in hub.channels


def test_frames_go_past_the_session_wrapper_and_the_drain_connection():
    from channels.sessions import InstanceSessionWrapper

    from config.daphne_drain import _Connection

    async def daphne_send(message):
        return message

    drain = _Connection("websocket", daphne_send)
    wrapper = InstanceSessionWrapper.__new__(InstanceSessionWrapper)
    wrapper.real_send = drain.send
    assert frames_send(wrapper.send) is daphne_send
    assert frames_send(daphne_send) is daphne_send


def test_a_batch_registers_one_commit_callback_whatever_its_size(inbox, django_capture_on_commit_callbacks):
    def batch(n: int) -> int:
        contacts = [ContactFactory() for _ in range(n)]
        opened = [
            services.customer_message_send(inbox_id=inbox.pk, contact_id=c.pk, text="first", client_id="c0")[0]
            for c in contacts
        ]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            results = services.customer_messages_send_many(
                requests=[
                    {
                        "inbox_id": inbox.pk,
                        "contact_id": c.pk,
                        "conversation_id": first["conversation_id"],
                        "text": "next",
                        "client_id": "c1",
                    }
                    for c, first in zip(contacts, opened, strict=True)
                ]
            )
        assert all(r["created"] for r in results)
        return len(callbacks)

    assert batch(1) == batch(6)


def test_a_batch_thread_checks_its_connection_at_most_once_a_second(monkeypatch):
    import asyncio

    pings = []
    conn = connections["default"]
    usable = type(conn).is_usable

    def counting(self):
        pings.append(1)
        return usable(self)

    monkeypatch.setattr(type(conn), "is_usable", counting)

    def run(requests):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return [{} for _ in requests]

    async def main():
        batcher = batching.Batcher(run)
        for _ in range(5):
            await batcher.submit({})
        batcher.executor.shutdown(wait=True)

    asyncio.run(main())
    assert len(pings) <= 1


def test_a_frames_text_is_the_json_the_standard_library_writes():
    """frame_text (orjson): the same JSON value as json.dumps for what frames carry (non-ASCII text,
    emoji, quotes, control characters, None, bools, floats, nested lists, int keys as strings, lazy
    translated text), json.dumps' text for what orjson refuses (an int beyond 64 bits, a lone surrogate),
    and still a TypeError for what json.dumps refuses (a datetime, any other object)."""
    import json
    from datetime import UTC, datetime

    from django.utils.translation import gettext_lazy

    from interface.sockets.base import _lazy_text, frame_text

    frame = {
        "type": "message.new",
        "message": {"id": 7, "text": '中文 😀 "quoted" \\ \n\t\x00 </script>', "private": False, "seq": 2**62},
        "list": [None, True, 1.5, -3, [], {}],
        5: "int key",
        "lazy": gettext_lazy("Customer"),
    }
    text = frame_text(frame)
    assert json.loads(text) == json.loads(json.dumps(frame, default=_lazy_text))
    assert "中文 😀" in text  # UTF-8 as it is
    big = {"n": 2**70, "s": "\ud800"}
    assert frame_text(big) == json.dumps(big, separators=(",", ":"))
    for refused in ({"when": datetime.now(UTC)}, {"thing": object()}):
        with pytest.raises(TypeError):
            frame_text(refused)


async def test_a_socket_whose_layer_cannot_be_built_ends_with_that_error(monkeypatch):
    """A configuration error building the channel layer reaches the server as itself, not as an
    AttributeError from the cleanup that forgets the socket's channel."""
    from django.core.exceptions import ImproperlyConfigured

    from interface.sockets import base
    from interface.sockets.widget import WidgetConsumer

    def broken(alias):
        raise ImproperlyConfigured("no channel layer")

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        pass

    monkeypatch.setattr(base, "get_channel_layer", broken)
    with pytest.raises(ImproperlyConfigured, match="no channel layer"):
        await WidgetConsumer()({"type": "websocket", "path": "/ws/v1/widget/"}, receive, send)
