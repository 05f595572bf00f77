"""A customer cannot write an internal note: `private: true` is refused with `forbidden` on every customer
transport (the widget socket, batched or not, and the HTTP API), and nothing is stored."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from imsubsystem import services
from imsubsystem.models import Message
from tests.imsubsystem.conftest import receive_until, send, widget_communicator

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = "https://shop.example"


async def _authed(token: str):
    communicator = widget_communicator(origin=ORIGIN)
    assert (await communicator.connect())[0]
    await send(communicator, {"type": "auth", "token": token, "after_seq": 0})
    await receive_until(communicator, "ready")
    return communicator


async def _texts() -> list[tuple[str, bool]]:
    return await database_sync_to_async(lambda: list(Message.objects.order_by("id").values_list("text", "private")))()


async def test_the_widget_socket_refuses_a_private_message_before_and_inside_a_conversation(widget_session):
    token, _ = widget_session
    communicator = await _authed(token)
    # No conversation yet: the message would open one (the unbatched path).
    await send(communicator, {"type": "message.send", "client_id": "p1", "text": "secret note", "private": True})
    refused = await receive_until(communicator, "error")
    assert (refused["code"], refused["client_id"]) == ("forbidden", "p1")
    assert await _texts() == []

    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "hello"})
    await receive_until(communicator, "message.ack")
    # In an open conversation: the batched path.
    await send(communicator, {"type": "message.send", "client_id": "p2", "text": "another note", "private": True})
    refused = await receive_until(communicator, "error")
    assert (refused["code"], refused["client_id"]) == ("forbidden", "p2")
    # false is what every customer message is.
    await send(communicator, {"type": "message.send", "client_id": "c2", "text": "public", "private": False})
    await receive_until(communicator, "message.ack")
    await communicator.disconnect()
    assert await _texts() == [("hello", False), ("public", False)]


def test_the_http_api_refuses_a_private_message(client, widget_session):
    token, _ = widget_session
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ORIGIN": ORIGIN}
    response = client.post(
        "/api/v1/widget/messages",
        {"client_id": "p1", "text": "secret note", "private": True},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert not Message.objects.exists()


def test_the_switch_refuses_it_for_every_caller(widget_session):
    _, session = widget_session
    with pytest.raises(services.SwitchError) as refused:
        services.customer_message_send(
            inbox_id=session.inbox_id, contact_id=session.contact_id, text="x", client_id="p", private=True
        )
    assert refused.value.code == "forbidden"
    [result] = services.customer_messages_send_many(
        requests=[
            {
                "inbox_id": session.inbox_id,
                "contact_id": session.contact_id,
                "conversation_id": 0,
                "text": "x",
                "client_id": "q",
                "private": True,
            }
        ]
    )
    assert result["error"] == "forbidden"
    assert not Message.objects.exists()
