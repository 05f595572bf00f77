"""The agent and supervisor sockets with real routing: offer, accept, chat, transfer, close."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from imsubsystem import services
from imsubsystem.models import Conversation, Message
from supervisor.models import Team
from tests.factories import ContactFactory
from tests.imsubsystem.conftest import receive_until, send, staff_communicator, widget_communicator

pytestmark = pytest.mark.django_db(transaction=True)


async def _agent_socket(user, *, origin=None):
    communicator = await database_sync_to_async(staff_communicator)(user, "/ws/v1/agent/", origin)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _available(communicator) -> dict:
    ready = await receive_until(communicator, "agent.ready")
    await send(communicator, {"type": "presence.set", "status": "available"})
    await receive_until(communicator, "ok")
    return ready


async def _customer_writes(inbox, contact_id, text="Help please", client_id=None):
    message, _ = await database_sync_to_async(services.customer_message_send)(
        inbox_id=inbox.pk, contact_id=contact_id, text=text, client_id=client_id
    )
    return message


async def _take_offer(communicator) -> dict:
    offer = await receive_until(communicator, "offer")
    await send(communicator, {"type": "offer.accept", "offer_id": offer["offer_id"]})
    assigned = await receive_until(communicator, "conversation.assigned")
    assert assigned["conversation"]["id"] == offer["conversation"]["id"]
    return assigned


async def test_offer_accept_then_chat_both_ways(inbox, make_agent, widget_session, frame_log):
    """The richest flow; the autouse frame_log spy checks every frame it emits against events.py."""
    token, _ = widget_session
    agent = await database_sync_to_async(make_agent)("alice")
    agent_ws = await _agent_socket(agent)
    await _available(agent_ws)

    customer_ws = widget_communicator()
    await customer_ws.connect()
    await send(customer_ws, {"type": "auth", "token": token})
    await receive_until(customer_ws, "ready")
    await send(customer_ws, {"type": "message.send", "client_id": "c1", "text": "Is my parcel lost?"})
    ack = await receive_until(customer_ws, "message.ack")
    conversation_id = ack["message"]["conversation_id"]

    assigned = await _take_offer(agent_ws)
    assert assigned["agent"]["id"] == agent.pk
    status = await receive_until(customer_ws, "conversation.status", timeout=5)
    while status["status"] != "assigned":
        status = await receive_until(customer_ws, "conversation.status")
    assert status["agent"]["name"]
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == "assigned" and conversation.assignee_id == agent.pk

    await send(agent_ws, {"type": "resume", "conversation_id": conversation_id, "after_seq": 0})
    first = await receive_until(agent_ws, "message.new")
    assert first["message"]["text"] == "Is my parcel lost?"
    await receive_until(agent_ws, "resume.done")

    await send(
        agent_ws, {"type": "message.send", "conversation_id": conversation_id, "client_id": "a1", "text": "Checking!"}
    )
    ack = await receive_until(agent_ws, "message.ack")
    assert ack["message"]["sender"] == {
        "kind": "agent",
        "name": "alice" if not agent.first_name else agent.first_name,
        "id": agent.pk,
    }
    seen = await receive_until(customer_ws, "message.new")
    assert seen["message"]["text"] == "Checking!" and seen["message"]["seq"] == 2

    await send(customer_ws, {"type": "typing", "active": True})
    typing = await receive_until(agent_ws, "typing")
    assert typing["sender"]["kind"] == "customer" and typing["conversation_id"] == conversation_id

    await send(agent_ws, {"type": "read", "conversation_id": conversation_id, "up_to_seq": 2})
    read = await receive_until(customer_ws, "read")
    assert read == {"type": "read", "conversation_id": conversation_id, "by": "agent", "up_to_seq": 2}

    await send(agent_ws, {"type": "conversation.close", "conversation_id": conversation_id, "wrap_up": "Parcel found"})
    await receive_until(agent_ws, "ok")
    closed = await receive_until(customer_ws, "conversation.status")
    while closed["status"] != "closed":
        closed = await receive_until(customer_ws, "conversation.status")
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == "closed" and conversation.wrap_up == "Parcel found"
    await agent_ws.disconnect()
    await customer_ws.disconnect()
    assert {
        "agent.ready",
        "ready",
        "offer",
        "offer.closed",
        "conversation.assigned",
        "conversation.status",
        "conversation.started",
        "message.new",
        "message.ack",
        "resume.done",
        "typing",
        "read",
        "presence",
        "queue.changed",
        "ok",
    } <= frame_log.types


async def test_transfer_between_two_agents_moves_the_conversation(inbox, make_agent):
    alice = await database_sync_to_async(make_agent)("alice")
    bob = await database_sync_to_async(make_agent)("bob")
    alice_ws = await _agent_socket(alice)
    await _available(alice_ws)
    contact = await database_sync_to_async(ContactFactory)()
    message = await _customer_writes(inbox, contact.pk)
    conversation_id = message["conversation_id"]
    await _take_offer(alice_ws)

    bob_ws = await _agent_socket(bob)
    await _available(bob_ws)
    await send(alice_ws, {"type": "conversation.transfer", "conversation_id": conversation_id, "agent_id": bob.pk})
    await receive_until(alice_ws, "ok")

    moved = await receive_until(bob_ws, "conversation.assigned")
    if moved["agent"]["id"] != bob.pk:  # routing may offer first
        moved = await receive_until(bob_ws, "conversation.assigned")
    assert moved["agent"]["id"] == bob.pk and moved["previous_agent_id"] == alice.pk
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.assignee_id == bob.pk and conversation.status == "assigned"

    # Alice no longer holds it: her frames on it are refused, and she gets no more of its messages.
    await send(alice_ws, {"type": "message.send", "conversation_id": conversation_id, "client_id": "x", "text": "hi"})
    refused = await receive_until(alice_ws, "error")
    assert refused["code"] == "not_found"
    await send(
        bob_ws, {"type": "message.send", "conversation_id": conversation_id, "client_id": "b1", "text": "Bob here"}
    )
    await receive_until(bob_ws, "message.ack")
    await send(alice_ws, {"type": "ping"})
    leftovers: list = []
    await receive_until(alice_ws, "pong", collect=leftovers)
    assert not [f for f in leftovers if f["type"] == "message.new" and f["message"]["text"] == "Bob here"]
    texts = await database_sync_to_async(lambda: list(Message.objects.order_by("seq").values_list("text", "private")))()
    assert texts[-1] == ("Bob here", False)
    assert any(private and text.startswith("Transferred to") for text, private in texts)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_an_agent_outside_the_conversation_is_refused(inbox, make_agent):
    alice = await database_sync_to_async(make_agent)("alice")
    mallory = await database_sync_to_async(make_agent)("mallory")
    contact = await database_sync_to_async(ContactFactory)()
    message = await _customer_writes(inbox, contact.pk)
    conversation_id = message["conversation_id"]
    await database_sync_to_async(services.conversation_assign)(conversation_id=conversation_id, agent_id=alice.pk)

    mallory_ws = await _agent_socket(mallory)
    await receive_until(mallory_ws, "agent.ready")
    for frame in (
        {"type": "message.send", "conversation_id": conversation_id, "client_id": "m", "text": "hi"},
        {"type": "resume", "conversation_id": conversation_id, "after_seq": 0},
        {"type": "read", "conversation_id": conversation_id, "up_to_seq": 1},
        {"type": "conversation.close", "conversation_id": conversation_id},
        {"type": "conversation.transfer", "conversation_id": conversation_id, "agent_id": mallory.pk},
        {"type": "typing", "conversation_id": conversation_id, "active": True},
        {"type": "message.send", "conversation_id": 999999, "client_id": "m", "text": "hi"},
    ):
        await send(mallory_ws, frame)
        error = await receive_until(mallory_ws, "error")
        assert error["code"] == "not_found", frame
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == "assigned" and conversation.assignee_id == alice.pk
    assert await database_sync_to_async(Message.objects.count)() == 1
    await mallory_ws.disconnect()


async def test_a_supervisor_may_watch_and_write_notes_in_their_teams_conversations(
    inbox, queue, make_agent, supervisor_user
):
    def supervise():
        team = Team.objects.create(name="Support team")
        team.supervisors.add(supervisor_user)
        team.queues.add(queue)

    await database_sync_to_async(supervise)()
    alice = await database_sync_to_async(make_agent)("alice")
    contact = await database_sync_to_async(ContactFactory)()
    message = await _customer_writes(inbox, contact.pk)
    conversation_id = message["conversation_id"]
    await database_sync_to_async(services.conversation_assign)(conversation_id=conversation_id, agent_id=alice.pk)
    sup_ws = await _agent_socket(supervisor_user)
    await receive_until(sup_ws, "agent.ready")
    await send(sup_ws, {"type": "resume", "conversation_id": conversation_id, "after_seq": 0})
    await receive_until(sup_ws, "resume.done")
    await send(
        sup_ws,
        {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": "s1",
            "text": "Offer a voucher",
            "private": True,
        },
    )
    ack = await receive_until(sup_ws, "message.ack")
    assert ack["message"]["private"] is True
    await sup_ws.disconnect()


async def test_anonymous_users_and_foreign_origins_are_closed(make_agent, db):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    anonymous = WebsocketCommunicator(application, "/ws/v1/agent/", headers=[(b"host", b"testserver")])
    await anonymous.connect()
    assert (await anonymous.receive_json_from(timeout=5))["code"] == "auth_required"
    assert (await anonymous.receive_output(timeout=5))["code"] == 4401

    alice = await database_sync_to_async(make_agent)("alice")
    hijack = await database_sync_to_async(staff_communicator)(alice, "/ws/v1/agent/", "https://evil.example")
    await hijack.connect()
    assert (await hijack.receive_json_from(timeout=5))["code"] == "origin_not_allowed"
    assert (await hijack.receive_output(timeout=5))["code"] == 4403


async def test_supervisor_socket_sends_queue_stats_snapshots(inbox, queue, make_agent, supervisor_user, settings):
    """The socket's queue.stats come from the supervisor app's statistics service, scoped to the user's
    teams (supervisor.stats.queue_stats_frame); the frame check passes every one."""
    settings.IM_QUEUE_STATS_INTERVAL_S = 0.2

    def supervise():
        team = Team.objects.create(name="Support team")
        team.supervisors.add(supervisor_user)
        team.queues.add(queue)

    await database_sync_to_async(supervise)()
    await database_sync_to_async(make_agent)("alice")
    contact = await database_sync_to_async(ContactFactory)()
    await _customer_writes(inbox, contact.pk)
    sup_ws = await database_sync_to_async(staff_communicator)(supervisor_user, "/ws/v1/supervisor/")
    await sup_ws.connect()
    await receive_until(sup_ws, "supervisor.ready")
    first = await receive_until(sup_ws, "queue.stats")
    (support,) = [q for q in first["queues"] if q["queue_id"] == inbox.default_queue_id]
    assert support["waiting"] == 1 and support["agents"]["available"] == 1
    second = await receive_until(sup_ws, "queue.stats")
    assert second["at"] >= first["at"]
    await sup_ws.disconnect()


async def test_agents_cannot_open_the_supervisor_socket(make_agent):
    alice = await database_sync_to_async(make_agent)("alice")
    ws = await database_sync_to_async(staff_communicator)(alice, "/ws/v1/supervisor/")
    await ws.connect()
    assert (await ws.receive_json_from(timeout=5))["code"] == "forbidden"
    assert (await ws.receive_output(timeout=5))["code"] == 4403
