"""The customer widget socket /ws/v1/widget/ on the real Redis channel layer."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from imsubsystem import services
from imsubsystem.models import Message
from tests.factories import ContactFactory
from tests.imsubsystem.conftest import receive_until, send, widget_communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def _authed(token: str, *, after_seq: int = 0, origin: str | None = "https://shop.example"):
    communicator = widget_communicator(origin=origin)
    connected, _ = await communicator.connect()
    assert connected
    await send(communicator, {"type": "auth", "token": token, "after_seq": after_seq})
    ready = await receive_until(communicator, "ready")
    return communicator, ready


async def test_auth_then_send_gets_ack_and_message_new(widget_session):
    token, _ = widget_session
    communicator, ready = await _authed(token)
    assert ready == {"type": "ready", "conversation_id": None, "last_seq": 0, "status": None}

    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "Hello <b>there</b>"})
    ack = await receive_until(communicator, "message.ack")
    assert ack["client_id"] == "c1" and ack["duplicate"] is False
    assert ack["message"]["seq"] == 1 and ack["message"]["text"] == "Hello <b>there</b>"
    started = await receive_until(communicator, "conversation.started")
    assert started["conversation_id"] == ack["message"]["conversation_id"]
    replayed = await receive_until(communicator, "message.new")
    assert replayed["message"]["id"] == ack["message"]["id"]

    other_tab, _ = await _authed(token, after_seq=1)
    await send(communicator, {"type": "message.send", "client_id": "c2", "text": "Anyone?"})
    ack2 = await receive_until(communicator, "message.ack")
    live = await receive_until(other_tab, "message.new")
    assert live["message"]["seq"] == ack2["message"]["seq"] == 2
    # The sending socket has its message from the ack: no message.new of its own comes after it.
    extra = []
    while not await communicator.receive_nothing(timeout=0.3):
        extra.append(await communicator.receive_json_from())
    assert "message.new" not in [f["type"] for f in extra], extra
    await other_tab.disconnect()
    await communicator.disconnect()


async def test_a_retried_client_id_returns_the_first_message_and_stores_one_row(widget_session):
    token, _ = widget_session
    communicator, _ = await _authed(token)
    await send(communicator, {"type": "message.send", "client_id": "dup", "text": "first"})
    first = await receive_until(communicator, "message.ack")
    await send(communicator, {"type": "message.send", "client_id": "dup", "text": "first (retried)"})
    again = await receive_until(communicator, "message.ack")
    assert again["duplicate"] is True and again["message"] == first["message"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    await communicator.disconnect()


async def test_resume_after_a_dropped_socket_replays_what_was_sent_meanwhile(widget_session, make_agent):
    token, _ = widget_session
    agent = await database_sync_to_async(make_agent)("a1")
    communicator, _ = await _authed(token)
    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "Hi"})
    ack = await receive_until(communicator, "message.ack")
    conversation_id = ack["message"]["conversation_id"]
    await communicator.disconnect()

    for text in ("Hello!", "How can I help?"):
        await database_sync_to_async(services.message_send)(
            conversation_id=conversation_id, sender_kind="agent", sender_user_id=agent.pk, text=text
        )
    await database_sync_to_async(services.message_send)(
        conversation_id=conversation_id, sender_kind="agent", sender_user_id=agent.pk, text="note", private=True
    )

    communicator, ready = await _authed(token, after_seq=1)
    assert ready["conversation_id"] == conversation_id and ready["last_seq"] == 4
    frames = [await communicator.receive_json_from(timeout=5) for _ in range(3)]
    assert [f["type"] for f in frames] == ["message.new", "message.new", "message.hidden"]
    assert [f["message"]["text"] for f in frames[:2]] == ["Hello!", "How can I help?"]
    assert frames[2] == {"type": "message.hidden", "conversation_id": conversation_id, "seq": 4}

    await send(communicator, {"type": "resume", "after_seq": 2})
    collected: list = []
    done = await receive_until(communicator, "resume.done", collect=collected)
    assert [f.get("message", {}).get("seq") or f["seq"] for f in collected] == [3, 4]
    assert done["last_seq"] == 4
    await communicator.disconnect()


async def test_private_notes_reach_the_customer_only_as_a_hidden_seq(widget_session, make_agent):
    token, _ = widget_session
    agent = await database_sync_to_async(make_agent)("a1")
    communicator, _ = await _authed(token)
    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "Hi"})
    ack = await receive_until(communicator, "message.ack")
    await receive_until(communicator, "message.new")
    await database_sync_to_async(services.message_send)(
        conversation_id=ack["message"]["conversation_id"],
        sender_kind="agent",
        sender_user_id=agent.pk,
        text="Customer is rude",
        private=True,
    )
    # Seq 1 (and the queued status) may come twice (replayed when the socket moved into the new
    # conversation, and live): clients drop a seq they already hold. No other message may come.
    earlier: list[dict] = []
    frame = await receive_until(communicator, "message.hidden", collect=earlier)
    assert frame == {"type": "message.hidden", "conversation_id": ack["message"]["conversation_id"], "seq": 2}
    assert all(f["message"]["seq"] == 1 for f in earlier if f["type"] == "message.new")
    assert "Customer is rude" not in json.dumps(earlier)
    await communicator.disconnect()


async def test_the_token_in_a_url_is_ignored_and_frames_before_auth_close_the_socket(widget_session):
    token, _ = widget_session
    communicator = widget_communicator(path=f"/ws/v1/widget/?token={token}")
    # The route does not match with a query string in the path on some routers; a plain path with the
    # token in the query string is what a careless client would send.
    communicator.scope["path"] = "/ws/v1/widget/"
    communicator.scope["query_string"] = f"token={token}".encode()
    connected, _ = await communicator.connect()
    assert connected
    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "Hi"})
    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "auth_required"
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_bad_token_is_refused_and_closes(db):
    communicator = widget_communicator()
    await communicator.connect()
    await send(communicator, {"type": "auth", "token": "x" * 43})
    error = await communicator.receive_json_from(timeout=5)
    assert error["code"] == "auth_failed"
    assert (await communicator.receive_output(timeout=5))["code"] == 4401


async def test_an_origin_the_inbox_does_not_allow_is_refused(widget_session):
    token, _ = widget_session
    communicator = widget_communicator(origin="https://evil.example")
    await communicator.connect()
    await send(communicator, {"type": "auth", "token": token})
    error = await communicator.receive_json_from(timeout=5)
    assert error["code"] == "origin_not_allowed"
    assert (await communicator.receive_output(timeout=5))["code"] == 4401


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        (json.dumps({"type": "teleport"}), "unknown_type"),
        (json.dumps({"type": "offer.accept", "offer_id": "x"}), "unknown_type"),
        (json.dumps({"type": "message.send", "text": "no client id"}), "invalid"),
        (json.dumps({"type": "message.send", "client_id": "c", "text": 5}), "invalid"),
        (json.dumps({"type": "message.send", "client_id": "c", "text": "x" * 4001}), "too_long"),
        (json.dumps({"type": "message.send", "client_id": "c", "text": "  "}), "empty"),
        (json.dumps({"type": "resume"}), "invalid"),
        (json.dumps({"type": "read", "up_to_seq": "3"}), "invalid"),
    ],
)
async def test_bad_frames_get_an_error_change_nothing_and_keep_the_socket_open(widget_session, raw, code):
    token, _ = widget_session
    communicator, _ = await _authed(token)
    await communicator.send_to(text_data=raw)
    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == code, error
    await send(communicator, {"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    assert await database_sync_to_async(Message.objects.count)() == 0
    await communicator.disconnect()


async def test_a_customer_cannot_name_another_customers_conversation(widget_session, inbox):
    token, _ = widget_session

    def other_conversation():
        message, _ = services.customer_message_send(
            inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="my secret order", client_id="o1"
        )
        return message["conversation_id"]

    other_id = await database_sync_to_async(other_conversation)()
    communicator, _ = await _authed(token)
    for frame in (
        {"type": "message.send", "client_id": "c1", "text": "let me in", "conversation_id": other_id},
        {"type": "resume", "after_seq": 0, "conversation_id": other_id},
        {"type": "read", "up_to_seq": 1, "conversation_id": other_id},
    ):
        await send(communicator, frame)
        error = await communicator.receive_json_from(timeout=5)
        assert error["type"] == "error" and error["code"] == "not_found"
    assert await database_sync_to_async(Message.objects.filter(conversation_id=other_id).count)() == 1
    await communicator.disconnect()


async def test_too_many_frames_are_rate_limited_without_closing(widget_session):
    token, _ = widget_session
    communicator, _ = await _authed(token)
    for _ in range(40):
        await send(communicator, {"type": "ping"})
    frames = [await communicator.receive_json_from(timeout=5) for _ in range(40)]
    limited = [f for f in frames if f["type"] == "error"]
    assert limited and all(f["code"] == "rate_limited" for f in limited)
    assert any(f["type"] == "pong" for f in frames)
    await communicator.disconnect()
