"""The survey question reaches the customer after an agent closes, the answers are stored; skills picked in
the flow reach routing; buttons on the widget, numbered text on platforms."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from bots.models import BotSession, SurveyResponse
from imsubsystem import auth
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Message
from routing.models import Offer, WorkItem
from tests.factories import BotFlowFactory, FlowStepFactory
from tests.imsubsystem.conftest import receive_until, send, widget_communicator

from .conftest import build_flow

pytestmark = pytest.mark.django_db(transaction=True)


async def next_bot_message(communicator) -> dict:
    while True:
        frame = await receive_until(communicator, "message.new")
        if frame["message"]["sender"]["kind"] == "bot" and not frame["message"]["private"]:
            return frame["message"]


def _assign_and_close(conversation_id: int, agent) -> None:
    offer = Offer.objects.get(ref=conversation_id, status="open")
    switch.offer_answer(offer_id=offer.id, agent_id=agent.pk, accept=True)
    switch.conversation_close(conversation_id=conversation_id, by_user_id=agent.pk)


async def test_the_survey_reaches_the_widget_after_the_close_and_the_answers_are_stored(inbox, queues, make_agent):
    await database_sync_to_async(build_flow)(inbox, queues)
    alice = await database_sync_to_async(make_agent)("alice")
    token, _ = await database_sync_to_async(auth.widget_session_create)(inbox=inbox, name="Vera")
    communicator = widget_communicator()
    assert (await communicator.connect())[0]
    await send(communicator, {"type": "auth", "token": token, "after_seq": 0})
    await receive_until(communicator, "ready")
    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "hello"})
    for _ in range(3):
        menu = await next_bot_message(communicator)
    conversation_id = menu["conversation_id"]
    # The customer clicks the "Sales" button: the widget sends its label as text.
    await send(communicator, {"type": "message.send", "client_id": "c2", "text": menu["buttons"][0]["label"]})
    status = await receive_until(communicator, "conversation.status")
    while status["status"] != "offered":
        status = await receive_until(communicator, "conversation.status")

    await database_sync_to_async(_assign_and_close)(conversation_id, alice)
    question = await next_bot_message(communicator)
    while not question["text"].startswith("How did we do?"):
        question = await next_bot_message(communicator)
    assert question["conversation_id"] == conversation_id
    survey = await database_sync_to_async(SurveyResponse.objects.get)(conversation_id=conversation_id)
    assert survey.delivered and survey.rating is None
    # Sending it did not reopen the conversation.
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == "closed"

    # The answer reopens the conversation to the bot (as any message within the window), which stores it.
    await send(communicator, {"type": "message.send", "client_id": "c3", "text": "5"})
    comment_question = await next_bot_message(communicator)
    assert comment_question["conversation_id"] == conversation_id
    assert comment_question["text"].startswith("Thank you! Anything you would like to add?")
    await send(communicator, {"type": "message.send", "client_id": "c4", "text": "<b>Quick</b> and kind"})
    thanks = await next_bot_message(communicator)
    assert thanks["text"] == "Thank you for your feedback!"
    await communicator.disconnect()

    survey = await database_sync_to_async(SurveyResponse.objects.get)(pk=survey.pk)
    assert (survey.rating, survey.comment) == (5, "<b>Quick</b> and kind")
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.status == "closed"
    session = await database_sync_to_async(BotSession.objects.get)(conversation_id=conversation_id)
    assert session.survey_stage == ""


def test_an_agent_still_cannot_write_after_the_close(flow, inbox, contact, make_agent):
    alice = make_agent("alice")
    payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="agent")
    conversation_id = payload["conversation_id"]
    _assign_and_close(conversation_id, alice)
    assert SurveyResponse.objects.get(conversation_id=conversation_id).delivered
    with pytest.raises(switch.SwitchError) as refused:
        switch.message_send(conversation_id=conversation_id, sender_kind="agent", sender_user_id=alice.pk, text="Hi")
    assert refused.value.code == "conversation_closed"
    assert not Message.objects.filter(conversation_id=conversation_id, sender_kind="agent").exists()


def test_skills_picked_in_the_flow_queue_the_conversation_with_them(inbox, contact, queues):
    flow = BotFlowFactory(inbox=inbox)
    FlowStepFactory(
        flow=flow,
        position=1,
        key="menu",
        kind="question",
        text="What about?",
        options=[
            {"label": "Invoices", "queue": "Sales", "skills": ["billing", "french"], "next": "handover"},
            {"label": "Anything else", "next": "handover"},
        ],
    )
    FlowStepFactory(flow=flow, position=2, key="handover", kind="handover", text="Connecting you now.")
    payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hello")
    switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="Invoices")
    conversation = Conversation.objects.get(pk=payload["conversation_id"])
    assert conversation.status == "queued" and conversation.queue_id == queues["sales"].pk
    item = WorkItem.objects.get(ref=conversation.pk)
    assert (item.queue_id, sorted(item.skills)) == (queues["sales"].pk, ["billing", "french"])
