"""Agents' `message.send` on the console socket goes through the process's batcher with the widget's
(imsubsystem/batching.py): many agents' sends that arrive together are stored with one INSERT, and every
behaviour of the single send holds on the batched path."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imsubsystem import batching, services
from imsubsystem.hooks import message_committed, message_stored
from imsubsystem.models import Conversation, Message
from imsubsystem.ratelimit import agent_identity, message_rate_take_many
from imsubsystem.selectors import user_display_name
from tests.factories import AttachmentFactory, ContactFactory
from tests.imsubsystem.conftest import receive_until, send, staff_communicator

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE_TABLE = Message._meta.db_table


class GatedBatcher(batching.Batcher):
    """The process's batcher, whose first batch waits at a gate until the test opens it: what arrives
    meanwhile goes together in the next batch. Records each batch's size and its INSERTs into the
    message table (counted on the batch thread's own connection)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.batches: list[tuple[int, int]] = []
        super().__init__(self._run)

    def _run(self, requests):
        if not self.batches:
            self.gate.wait(10)
        with CaptureQueriesContext(connection) as queries:
            results = batching.messages_admit_and_send(requests)
        inserts = [q["sql"] for q in queries if q["sql"].startswith(f"INSERT INTO `{MESSAGE_TABLE}`")]
        self.batches.append((len(requests), len(inserts)))
        return results


def _assigned_conversation(inbox, agent_id: int) -> tuple[int, int]:
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="help")
    services.conversation_assign(conversation_id=message["conversation_id"], agent_id=agent_id)
    return contact.pk, message["conversation_id"]


async def _console(user):
    communicator = await database_sync_to_async(staff_communicator)(user)
    connected, _ = await communicator.connect()
    assert connected
    await receive_until(communicator, "agent.ready")
    return communicator


async def test_agents_sends_arriving_together_are_one_insert_with_every_behaviour(inbox, make_agent, settings):
    settings.IM_MESSAGE_RATE_LIMITS = {"agent": {"burst": 2, "per_s": 0.001}}
    alice, bob, carol, mallory = [await database_sync_to_async(make_agent)(n) for n in ("alice", "bob", "carol", "m")]
    _, conv_a = await database_sync_to_async(_assigned_conversation)(inbox, alice.pk)
    _, conv_b = await database_sync_to_async(_assigned_conversation)(inbox, bob.pk)
    _, conv_c = await database_sync_to_async(_assigned_conversation)(inbox, carol.pk)
    customer, conv_d = await database_sync_to_async(_assigned_conversation)(inbox, bob.pk)
    # Carol's bucket of two is empty already (her messages from the console's HTTP API, say).
    await database_sync_to_async(message_rate_take_many)([agent_identity(carol.pk)] * 2)

    batcher = GatedBatcher()
    batching._batchers[asyncio.get_running_loop()] = batcher
    stored, committed = [], []
    consoles = {
        "alice-1": await _console(alice),
        "alice-2": await _console(alice),  # a second console of hers, sending the same client_id
        "bob": await _console(bob),
        "carol": await _console(carol),
        "mallory": await _console(mallory),
    }
    frames = {
        "alice-1": {"type": "message.send", "conversation_id": conv_a, "client_id": "a-1", "text": "On it"},
        "alice-2": {"type": "message.send", "conversation_id": conv_a, "client_id": "a-1", "text": "On it"},
        "bob": {"type": "message.send", "conversation_id": conv_b, "client_id": "b-1", "text": "VIP", "private": True},
        "carol": {"type": "message.send", "conversation_id": conv_c, "client_id": "c-1", "text": "Hello"},
        "mallory": {"type": "message.send", "conversation_id": conv_a, "client_id": "m-1", "text": "Peek"},
    }
    with message_stored.subscribed(stored.append), message_committed.subscribed(committed.append):
        # A customer's message goes first and holds the batcher; everything else arrives meanwhile.
        first = asyncio.ensure_future(
            batcher.submit(
                {
                    "inbox_id": inbox.pk,
                    "contact_id": customer,
                    "conversation_id": conv_d,
                    "text": "still there?",
                    "client_id": str(uuid.uuid4()),
                }
            )
        )
        while not batcher.running:
            await asyncio.sleep(0.01)
        for name, frame in frames.items():
            await send(consoles[name], frame)
        for _ in range(500):
            if len(batcher.pending) == len(frames):
                break
            await asyncio.sleep(0.01)
        assert len(batcher.pending) == len(frames)
        batcher.gate.set()
        assert (await first)["created"]
        acks = {name: await receive_until(consoles[name], "message.ack") for name in ("alice-1", "alice-2", "bob")}
        errors = {name: await receive_until(consoles[name], "error") for name in ("carol", "mallory")}

    # The five sends went together, and the three stored went in one INSERT.
    assert batcher.batches == [(1, 1), (5, 1)]
    # client_id idempotency: the repeat gets the first ack.
    assert acks["alice-1"]["message"] == acks["alice-2"]["message"]
    assert sorted([acks["alice-1"]["duplicate"], acks["alice-2"]["duplicate"]]) == [False, True]
    assert acks["alice-1"]["message"]["sender"] == {"kind": "agent", "name": user_display_name(alice), "id": alice.pk}
    # A private note stays private; it is no first response.
    assert acks["bob"]["message"]["private"] is True
    # Rate limit per sender, and the visibility rule, with the single path's error frames.
    assert errors["carol"] == {
        "type": "error",
        "code": "rate_limited",
        "detail": errors["carol"]["detail"],
        "client_id": "c-1",
        "command": "message.send",
        "retry_after_s": errors["carol"]["retry_after_s"],
    }
    assert errors["carol"]["retry_after_s"] >= 1
    assert {k: v for k, v in errors["mallory"].items() if k != "detail"} == {
        "type": "error",
        "code": "not_found",
        "client_id": "m-1",
        "command": "message.send",
    }

    def state():
        return (
            {c.pk: c.first_agent_reply_at is not None for c in Conversation.objects.filter(pk__in=[conv_a, conv_b])},
            sorted(Message.objects.filter(sender_kind="agent").values_list("conversation_id", "text", "private")),
            list(Conversation.objects.filter(pk=conv_a).values_list("last_seq", flat=True)),
        )

    replied, agent_messages, (last_seq_a,) = await database_sync_to_async(state)()
    assert replied == {conv_a: True, conv_b: False}
    assert agent_messages == [(conv_a, "On it", False), (conv_b, "VIP", True)]
    assert last_seq_a == 2
    # The hooks: message_stored inside the transaction, message_committed after it, for each message.
    assert sorted((e.conversation_id, e.sender_kind, e.private) for e in stored) == [
        (conv_a, "agent", False),
        (conv_b, "agent", True),
        (conv_d, "customer", False),
    ]
    alice_event = next(e for e in committed if e.message["id"] == acks["alice-1"]["message"]["id"])
    assert alice_event.conversation["assignee_id"] == alice.pk
    for console in consoles.values():
        await console.disconnect()


async def test_an_agent_send_alone_is_a_batch_of_one(inbox, make_agent):
    """Under light load nothing waits: a lone send is a batch of one, acknowledged at once; the
    conversation's customer-facing message.new follows for the other sockets."""
    alice = await database_sync_to_async(make_agent)("alice")
    _, conversation_id = await database_sync_to_async(_assigned_conversation)(inbox, alice.pk)
    batcher = GatedBatcher()
    batcher.gate.set()
    batching._batchers[asyncio.get_running_loop()] = batcher
    console = await _console(alice)
    frame = {"type": "message.send", "conversation_id": conversation_id, "client_id": "x", "text": "Hi"}
    await send(console, frame)
    ack = await receive_until(console, "message.ack")
    assert ack["duplicate"] is False and ack["message"]["seq"] == 2
    await send(console, frame)
    again = await receive_until(console, "message.ack")
    assert again == {**ack, "duplicate": True}
    await send(console, {**frame, "conversation_id": None})
    assert (await receive_until(console, "error"))["code"] in ("invalid", "not_found")
    assert batcher.batches[:2] == [(1, 1), (1, 0)]
    await console.disconnect()


async def test_an_agents_file_through_the_batch_is_bound_and_its_ack_signed(inbox, make_agent, settings, tmp_path):
    """A message with the agent's upload: bound to the conversation in the write path, the ack's links
    signed for the sender as the single path's were; someone else's upload is refused alone."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    alice = await database_sync_to_async(make_agent)("alice")
    _, conversation_id = await database_sync_to_async(_assigned_conversation)(inbox, alice.pk)
    mine = await database_sync_to_async(AttachmentFactory)(uploader_kind="agent", uploader_id=str(alice.pk))
    theirs = await database_sync_to_async(AttachmentFactory)(uploader_kind="agent", uploader_id="999999")
    console = await _console(alice)
    frame = {"type": "message.send", "conversation_id": conversation_id, "client_id": "f1", "text": "Here"}
    await send(console, {**frame, "attachment_ids": [mine.pk]})
    ack = await receive_until(console, "message.ack")
    (attachment,) = ack["message"]["attachments"]
    assert attachment["id"] == mine.pk and attachment["url"]
    await send(console, {**frame, "client_id": "f2", "attachment_ids": [theirs.pk]})
    assert (await receive_until(console, "error"))["code"] == "unknown_attachment"
    texts = await database_sync_to_async(
        lambda: list(Message.objects.filter(sender_kind="agent").values_list("client_id", "attachments"))
    )()
    assert texts == [("f1", [mine.pk])]
    await console.disconnect()


async def test_the_sending_console_has_its_message_from_the_ack_alone(inbox, make_agent):
    """No `message.new` of an agent's own message to the console that sent it (its ack carries the
    message, docs/protocol.md); the agent's other console, in the same conversation, gets it."""
    alice = await database_sync_to_async(make_agent)("alice")
    _, conversation_id = await database_sync_to_async(_assigned_conversation)(inbox, alice.pk)
    sender, other = await _console(alice), await _console(alice)
    for console in (sender, other):
        await send(console, {"type": "resume", "conversation_id": conversation_id, "after_seq": 0})
        await receive_until(console, "message.new")  # the customer's first message
    seen: list[dict] = []
    for n in range(2):  # the second send's ack comes after anything the first one published
        await send(
            sender, {"type": "message.send", "conversation_id": conversation_id, "client_id": f"e{n}", "text": "Hi"}
        )
        ack = await receive_until(sender, "message.ack", collect=seen)
        echoed = await receive_until(other, "message.new")
        assert echoed["message"] == ack["message"] and ack["message"]["seq"] == 2 + n
    assert await sender.receive_nothing(timeout=0.3)
    assert [f for f in seen if f["type"] == "message.new"] == []
    await sender.disconnect()
    await other.disconnect()
