"""An agent's "Mine" list holds only the conversations the agent holds now: not one that went back to
the bot, nor one waiting in a queue again, on first load (the socket's agent.ready, the HTTP list) and
live (the conversation.status frame that says so)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from imsubsystem import selectors, services
from imsubsystem.models import Conversation
from imsubsystem.models import ConversationStatus as S
from tests.factories import ContactFactory, ConversationFactory
from tests.imsubsystem.conftest import receive_until, send, staff_communicator

pytestmark = pytest.mark.django_db(transaction=True)


def test_mine_holds_only_conversations_assigned_to_the_agent_now(inbox, make_agent):
    alice = make_agent("alice")
    held = ConversationFactory(inbox=inbox, contact=ContactFactory(), status=S.ASSIGNED, assignee=alice)
    # Each keeps alice as its last assignee, but she no longer holds it.
    back_to_bot = ConversationFactory(inbox=inbox, contact=ContactFactory(), status=S.BOT, assignee=alice)
    requeued = ConversationFactory(inbox=inbox, contact=ContactFactory(), status=S.QUEUED, assignee=alice)
    offered = ConversationFactory(inbox=inbox, contact=ContactFactory(), status=S.OFFERED, assignee=alice)
    assert [c["id"] for c in selectors.conversations_for_agent(user_id=alice.pk)] == [held.pk]

    client = Client()
    client.force_login(alice)
    listed = client.get("/api/v1/agent/conversations").json()["conversations"]
    assert [c["id"] for c in listed] == [held.pk]
    assert not {back_to_bot.pk, requeued.pk, offered.pk} & {c["id"] for c in listed}


async def test_conversation_going_back_to_the_bot_leaves_mine_live_and_on_reload(
    bot_double, inbox, make_agent, settings
):
    alice = await database_sync_to_async(make_agent)("alice")
    agent_ws = await database_sync_to_async(staff_communicator)(alice)
    assert (await agent_ws.connect())[0]
    await receive_until(agent_ws, "agent.ready")
    await send(agent_ws, {"type": "presence.set", "status": "available"})
    await receive_until(agent_ws, "ok")

    contact = await database_sync_to_async(ContactFactory)()
    message, _ = await database_sync_to_async(services.customer_message_send)(
        inbox_id=inbox.pk, contact_id=contact.pk, text="Where is my parcel?"
    )
    conversation_id = message["conversation_id"]
    offer = await receive_until(agent_ws, "offer")
    await send(agent_ws, {"type": "offer.accept", "offer_id": offer["offer_id"]})
    await receive_until(agent_ws, "conversation.assigned")
    await send(agent_ws, {"type": "conversation.close", "conversation_id": conversation_id})
    await receive_until(agent_ws, "ok")

    # The customer writes again within the reopen window, and a bot now serves the inbox: the
    # conversation reopens with the bot, still naming alice as its last assignee.
    bot_double()
    await database_sync_to_async(services.customer_message_send)(
        inbox_id=inbox.pk, contact_id=contact.pk, text="One more thing"
    )
    while (status := await receive_until(agent_ws, "conversation.status"))["status"] == "closed":
        pass
    assert (status["conversation_id"], status["status"]) == (conversation_id, "bot")
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert (conversation.status, conversation.assignee_id) == ("bot", alice.pk)

    # A console opened now (a reload) does not list it.
    reload_ws = await database_sync_to_async(staff_communicator)(alice)
    assert (await reload_ws.connect())[0]
    ready = await receive_until(reload_ws, "agent.ready")
    assert conversation_id not in [c["id"] for c in ready["conversations"]]
    await reload_ws.disconnect()
    await agent_ws.disconnect()
