"""Widget messages of many sockets stored together: the same guarantees as one at a time."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from imsubsystem import auth, batching, services
from imsubsystem.models import Conversation, Message
from tests.factories import ContactFactory
from tests.imsubsystem.conftest import receive_until, send, widget_communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _open(inbox, contact=None):
    contact = contact or ContactFactory()
    first, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hello")
    return contact, first["conversation_id"]


def _request(inbox, contact, conversation_id, text="hi", client_id=None):
    return {
        "inbox_id": inbox.pk,
        "contact_id": contact.pk,
        "conversation_id": conversation_id,
        "text": text,
        "client_id": client_id or str(uuid.uuid4()),
    }


def test_a_batch_keeps_seq_order_idempotency_and_refusals(inbox):
    a, conv_a = _open(inbox)
    b, conv_b = _open(inbox)
    retry = _request(inbox, a, conv_a, "twice", "retry-1")
    requests = [
        _request(inbox, a, conv_a, "a1"),
        _request(inbox, b, conv_b, "b1"),
        retry,
        _request(inbox, a, conv_a, "x" * 5000),  # too long
        dict(retry),  # the same client_id again in the same batch
        _request(inbox, a, conv_b, "not mine"),  # another customer's conversation
        _request(inbox, a, conv_a, "a3"),
    ]
    results = services.customer_messages_send_many(requests=requests)
    assert [r["message"]["seq"] for r in (results[0], results[2], results[6])] == [2, 3, 4]
    assert results[1]["message"]["seq"] == 2 and results[1]["message"]["sender"]["kind"] == "customer"
    assert results[3] == {"error": "too_long", "detail": results[3]["detail"]}
    assert results[4] == {"message": results[2]["message"], "created": False}
    assert results[5] == {"fallback": True}
    assert results[0]["created"] and results[2]["created"]
    assert list(Message.objects.filter(conversation_id=conv_a).order_by("seq").values_list("seq", "text")) == [
        (1, "hello"),
        (2, "a1"),
        (3, "twice"),
        (4, "a3"),
    ]
    assert Conversation.objects.get(pk=conv_a).last_seq == 4
    # A later retry of a stored client_id returns the first message, and stores nothing.
    again = services.customer_messages_send_many(requests=[dict(retry)])
    assert again == [{"message": results[2]["message"], "created": False}]
    assert Message.objects.filter(client_id="retry-1").count() == 1


def test_a_closed_conversation_falls_back_to_the_full_path(inbox):
    contact, conversation_id = _open(inbox)
    services.conversation_close(conversation_id=conversation_id)
    [result] = services.customer_messages_send_many(requests=[_request(inbox, contact, conversation_id)])
    assert result == {"fallback": True}
    assert Message.objects.filter(conversation_id=conversation_id).count() == 1


async def test_many_sockets_at_once_lose_and_double_nothing(inbox):
    """Thirty customers send five messages each as fast as they can, and each retries one: every
    message is acknowledged once, stored once, and every conversation's seq runs 1..N."""
    sessions = [await database_sync_to_async(auth.widget_session_create)(inbox=inbox, name=f"c{i}") for i in range(30)]
    sockets = []
    for token, _ in sessions:
        ws = widget_communicator()
        assert (await ws.connect())[0]
        await send(ws, {"type": "auth", "token": token, "after_seq": 0})
        await receive_until(ws, "ready")
        await send(ws, {"type": "message.send", "client_id": str(uuid.uuid4()), "text": "hello"})
        await receive_until(ws, "message.ack")
        sockets.append(ws)

    async def customer(ws):
        ids = [str(uuid.uuid4()) for _ in range(5)]
        for n, client_id in enumerate(ids):
            await send(ws, {"type": "message.send", "client_id": client_id, "text": f"m{n}"})
        await send(ws, {"type": "message.send", "client_id": ids[2], "text": "m2"})
        acks = [await receive_until(ws, "message.ack", timeout=20) for _ in range(6)]
        return ids, acks

    outcomes = await asyncio.gather(*(customer(ws) for ws in sockets))
    for ws in sockets:
        await ws.disconnect()
    for ids, acks in outcomes:
        assert [a["client_id"] for a in acks] == [*ids, ids[2]]
        assert [a["message"]["seq"] for a in acks] == [2, 3, 4, 5, 6, 4]
        assert acks[-1]["duplicate"] is True

    def stored():
        rows = list(Message.objects.values_list("conversation_id", "seq", "client_id"))
        return rows, dict(Conversation.objects.values_list("pk", "last_seq"))

    rows, last_seq = await database_sync_to_async(stored)()
    assert len(rows) == 30 * 6
    assert len({client_id for _, _, client_id in rows}) == len(rows)
    for conversation_id, last in last_seq.items():
        assert sorted(s for c, s, _ in rows if c == conversation_id) == list(range(1, last + 1)) == list(range(1, 7))


async def test_a_message_that_arrives_as_the_last_batch_ends_is_stored(inbox):
    """A batch task ends (nothing pending) a turn of the event loop before its done-callback runs. A
    message submitted in that turn, by a socket whose frame is handled in it, starts a batch of its own:
    it does not wait in `pending` for a later message, which after the last message of a burst never
    comes (the message would be neither stored nor acknowledged)."""
    contact, conversation_id = await database_sync_to_async(_open)(inbox)
    batcher = batching.Batcher(batching.messages_admit_and_send)
    first = asyncio.ensure_future(batcher.submit(_request(inbox, contact, conversation_id, "first")))
    await asyncio.sleep(0)
    (task,) = batcher.running

    async def socket():
        # A socket's coroutine that looks once per turn of the loop and sends in the first turn in
        # which the batch task has ended.
        while not task.done():
            await asyncio.sleep(0)
        return await batcher.submit(_request(inbox, contact, conversation_id, "late"))

    late = asyncio.ensure_future(socket())
    assert (await asyncio.wait_for(first, 10))["created"]
    result = await asyncio.wait_for(late, 10)
    assert result["created"] and result["message"]["seq"] == 3


async def test_on_mysql_a_second_batch_is_stored_while_the_first_waits_for_mysql(inbox, settings):
    """IM_BATCH_WORKERS (two on MySQL): while one batch waits in the database (here for a conversation
    another transaction holds), the messages that arrive go as the next batch on the second thread and
    are stored and answered; the first is stored once the conversation is free. With one worker the
    second waited behind the first."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "mysql":
        pytest.skip("SQLite has one writer at a time: one worker there")
    assert settings.IM_BATCH_WORKERS == 2
    contact_a, conversation_a = await database_sync_to_async(_open)(inbox)
    contact_b, conversation_b = await database_sync_to_async(_open)(inbox)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=conversation_a)
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert await asyncio.to_thread(locked.wait, 10)
        batcher = batching.Batcher(batching.messages_admit_and_send, workers=settings.IM_BATCH_WORKERS)
        first = asyncio.ensure_future(batcher.submit(_request(inbox, contact_a, conversation_a, "waits")))
        await asyncio.sleep(0.3)
        assert not first.done()
        second = await asyncio.wait_for(batcher.submit(_request(inbox, contact_b, conversation_b, "goes")), 10)
        assert second["created"] and second["message"]["seq"] == 2
        assert not first.done()
    finally:
        release.set()
        await asyncio.to_thread(holder.join, 20)
    result = await asyncio.wait_for(first, 20)
    assert result["created"] and result["message"]["seq"] == 2
