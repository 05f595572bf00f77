"""Transfer with a note for the receiving agent, and @mentions in internal notes: stored through the one
write path, shown to staff only, validated (a forged or unknown id changes nothing), delivered as a
`notification.new` frame on the mentioned agent's real socket, persisted until read."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from imsubsystem import selectors, services
from imsubsystem.models import Conversation, Message, Notification
from imsubsystem.services import SwitchError
from tests.factories import ContactFactory, UserFactory
from tests.imsubsystem.conftest import receive_until, send, staff_communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def _agent_socket(user):
    communicator = await database_sync_to_async(staff_communicator)(user, "/ws/v1/agent/")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _ready(communicator, *, available: bool = True) -> dict:
    ready = await receive_until(communicator, "agent.ready")
    if available:
        await send(communicator, {"type": "presence.set", "status": "available"})
        await receive_until(communicator, "ok")
    return ready


async def _held_by(inbox, agent_ws) -> int:
    """A customer writes; the agent on `agent_ws` (the only one available) accepts routing's offer."""
    contact = await database_sync_to_async(ContactFactory)()
    message, _ = await database_sync_to_async(services.customer_message_send)(
        inbox_id=inbox.pk, contact_id=contact.pk, text="My parcel is lost"
    )
    offer = await receive_until(agent_ws, "offer")
    await send(agent_ws, {"type": "offer.accept", "offer_id": offer["offer_id"]})
    await receive_until(agent_ws, "conversation.assigned")
    return message["conversation_id"]


async def test_a_transfer_note_reaches_the_receiving_agent_in_the_offer_and_never_the_customer(
    inbox, queue, make_agent
):
    alice = await database_sync_to_async(make_agent)("alice")
    bob = await database_sync_to_async(make_agent)("bob")
    alice_ws = await _agent_socket(alice)
    await _ready(alice_ws)
    conversation_id = await _held_by(inbox, alice_ws)
    bob_ws = await _agent_socket(bob)
    await _ready(bob_ws)

    note = "VIP <b>customer</b>: refund already approved"
    await send(
        alice_ws,
        {"type": "conversation.transfer", "conversation_id": conversation_id, "queue_id": queue.pk, "note": note},
    )
    await receive_until(alice_ws, "ok")
    offer = await receive_until(bob_ws, "offer")
    assert offer["conversation"]["id"] == conversation_id
    assert offer["note"]["text"] == note and offer["note"]["by"]["id"] == alice.pk

    def stored():
        conversation = Conversation.objects.get(pk=conversation_id)
        rows = list(Message.objects.filter(conversation_id=conversation_id).order_by("seq"))
        return conversation, rows, selectors.history_for_customer(conversation_id=conversation_id)

    conversation, rows, customer_history = await database_sync_to_async(stored)()
    assert rows[-1].text == note and rows[-1].private and rows[-1].sender_user_id == alice.pk
    assert rows[-2].text.startswith("Transferred to") and rows[-2].private
    assert conversation.transfer_note_id == rows[-1].pk
    assert note not in str(customer_history)

    # Accepted: the console reads the note again with the history (it shows it above the thread).
    await send(bob_ws, {"type": "offer.accept", "offer_id": offer["offer_id"]})
    await receive_until(bob_ws, "conversation.assigned")
    again = await database_sync_to_async(selectors.transfer_note_of)(
        await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    )
    assert again["text"] == note
    await alice_ws.disconnect()
    await bob_ws.disconnect()


def test_a_transfer_without_a_note_clears_the_last_one_and_a_bad_note_changes_nothing(inbox, queue, make_agent):
    alice = make_agent("alice")
    bob = make_agent("bob")
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi")
    conversation_id = message["conversation_id"]
    services.conversation_assign(conversation_id=conversation_id, agent_id=alice.pk)
    services.conversation_transfer(conversation_id=conversation_id, by_user_id=alice.pk, agent_id=bob.pk, note="Hi Bob")
    assert Conversation.objects.get(pk=conversation_id).transfer_note.text == "Hi Bob"
    count = Message.objects.count()
    with pytest.raises(SwitchError) as refused:
        services.conversation_transfer(
            conversation_id=conversation_id, by_user_id=bob.pk, agent_id=alice.pk, note="x" * 4001
        )
    assert refused.value.code == "invalid" and Message.objects.count() == count
    assert Conversation.objects.get(pk=conversation_id).assignee_id == bob.pk
    services.conversation_transfer(conversation_id=conversation_id, by_user_id=bob.pk, agent_id=alice.pk)
    assert Conversation.objects.get(pk=conversation_id).transfer_note_id is None


def test_a_mention_of_someone_who_may_not_be_mentioned_is_refused_whole(inbox, make_agent):
    alice = make_agent("alice")
    bob = make_agent("bob")
    outsider = UserFactory(username="outsider")  # staff account without an agent profile
    gone = make_agent("gone")
    gone.is_active = False
    gone.save()
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi")
    conversation_id = message["conversation_id"]
    services.conversation_assign(conversation_id=conversation_id, agent_id=alice.pk)
    before = Message.objects.count()
    for mentions, private in (
        ([bob.pk, 999_999], True),  # a forged id
        ([outsider.pk], True),
        ([gone.pk], True),
        ([bob.pk], False),  # only an internal note mentions
        (["1"], True),
        ([True], True),
        ([10**30], True),  # not an id any database holds
        (list(range(1, 30)), True),
    ):
        with pytest.raises(SwitchError) as refused:
            services.message_send(
                conversation_id=conversation_id,
                sender_kind="agent",
                sender_user_id=alice.pk,
                text="@bob look",
                private=private,
                mentions=mentions,
            )
        assert refused.value.code == "invalid", mentions
    assert Message.objects.count() == before and not Notification.objects.exists()
    # Bob still cannot see the conversation: nothing was granted.
    conversation = Conversation.objects.get(pk=conversation_id)
    assert not selectors.conversation_visible_to(user=bob, conversation=conversation)

    # The writer's own id is dropped, not refused.
    services.message_send(
        conversation_id=conversation_id,
        sender_kind="agent",
        sender_user_id=alice.pk,
        text="note to self",
        private=True,
        mentions=[alice.pk],
    )
    assert not Notification.objects.exists()


async def test_a_mention_reaches_the_colleagues_socket_lets_them_see_not_act_and_persists_until_read(
    inbox, make_agent, widget_session
):
    alice = await database_sync_to_async(make_agent)("alice")
    bob = await database_sync_to_async(make_agent)("bob")
    alice_ws = await _agent_socket(alice)
    await _ready(alice_ws)
    conversation_id = await _held_by(inbox, alice_ws)
    bob_ws = await _agent_socket(bob)
    ready = await _ready(bob_ws)
    assert ready["notifications"] == [] and ready["notifications_unread"] == 0

    await send(
        alice_ws,
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": "n1",
            "text": "@bob can you check the refund?",
            "private": True,
            "mentions": [bob.pk],
        },
    )
    ack = await receive_until(alice_ws, "message.ack")
    frame = await receive_until(bob_ws, "notification.new")
    notification = frame["notification"]
    assert notification["kind"] == "mention" and notification["conversation"]["id"] == conversation_id
    assert notification["message_id"] == ack["message"]["id"] and notification["by"]["id"] == alice.pk
    assert notification["text"] == "@bob can you check the refund?" and notification["read"] is False

    # The mention lets Bob read the conversation and answer with a note...
    await send(bob_ws, {"type": "resume", "conversation_id": conversation_id, "after_seq": 0})
    first = await receive_until(bob_ws, "message.new")
    assert first["message"]["text"] == "My parcel is lost"
    await receive_until(bob_ws, "resume.done")
    await send(
        bob_ws,
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": "b1",
            "text": "Done",
            "private": True,
        },
    )
    await receive_until(bob_ws, "message.ack")
    # ...but not act on it: no reply to the customer, no transfer, close or read mark.
    for command in (
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "b2", "text": "Hello customer"},
        {"type": "conversation.close", "conversation_id": conversation_id},
        {"type": "conversation.transfer", "conversation_id": conversation_id, "agent_id": bob.pk},
        {"type": "read", "conversation_id": conversation_id, "up_to_seq": 1},
    ):
        await send(bob_ws, command)
        error = await receive_until(bob_ws, "error")
        assert error["code"] == "not_found", command
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == "assigned" and conversation.assignee_id == alice.pk

    # Persisted: a reconnect shows it again, until Bob marks it read (on every console of his).
    await bob_ws.disconnect()
    bob_ws = await _agent_socket(bob)
    ready = await _ready(bob_ws, available=False)
    assert [n["id"] for n in ready["notifications"]] == [notification["id"]] and ready["notifications_unread"] == 1
    mallory = await database_sync_to_async(make_agent)("mallory")
    mallory_ws = await _agent_socket(mallory)
    await _ready(mallory_ws, available=False)
    await send(mallory_ws, {"type": "notification.read", "notification_ids": [notification["id"]]})
    await receive_until(mallory_ws, "ok")
    row = await database_sync_to_async(Notification.objects.get)(pk=notification["id"])
    assert row.read_at is None  # someone else's id changes nothing
    await send(bob_ws, {"type": "notification.read", "notification_ids": [notification["id"]]})
    read = await receive_until(bob_ws, "notification.read")
    assert read["notification_ids"] == [notification["id"]] and read["unread"] == 0
    row = await database_sync_to_async(Notification.objects.get)(pk=notification["id"])
    assert row.read_at is not None
    await bob_ws.disconnect()
    bob_ws = await _agent_socket(bob)
    ready = await _ready(bob_ws, available=False)
    assert ready["notifications"] == [] and ready["notifications_unread"] == 0
    for ws in (alice_ws, bob_ws, mallory_ws):
        await ws.disconnect()


async def test_the_customer_never_sees_a_mention_note(inbox, make_agent, widget_session):
    from tests.imsubsystem.conftest import widget_communicator

    token, session = widget_session
    alice = await database_sync_to_async(make_agent)("alice")
    bob = await database_sync_to_async(make_agent)("bob")
    message, _ = await database_sync_to_async(services.customer_message_send)(
        inbox_id=inbox.pk, contact_id=session.contact_id, text="hello"
    )
    conversation_id = message["conversation_id"]
    await database_sync_to_async(services.conversation_assign)(conversation_id=conversation_id, agent_id=alice.pk)
    customer_ws = widget_communicator()
    await customer_ws.connect()
    await send(customer_ws, {"type": "auth", "token": token})
    await receive_until(customer_ws, "ready")
    await database_sync_to_async(services.message_send)(
        conversation_id=conversation_id,
        sender_kind="agent",
        sender_user_id=alice.pk,
        text="@bob secret",
        private=True,
        mentions=[bob.pk],
    )
    await send(customer_ws, {"type": "ping"})
    seen: list = []
    await receive_until(customer_ws, "pong", collect=seen)
    assert "secret" not in str(seen)
    await customer_ws.disconnect()
