"""Bot and system messages after a close (the satisfaction survey), skills on hand-over, and bot buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from imsubsystem import services
from imsubsystem.models import Conversation, Message
from imsubsystem.services import SwitchError
from routing.models import WorkItem
from tests.factories import ContactFactory, SkillFactory

from .conftest import receive_until, send, widget_communicator

pytestmark = pytest.mark.django_db(transaction=True)

CHOICES = [{"label": "Sales", "value": "1"}, {"label": "Support", "value": "2"}]


def _closed_conversation(inbox) -> int:
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="Hello")
    services.conversation_close(conversation_id=message["conversation_id"])
    return message["conversation_id"]


@pytest.mark.parametrize("sender_kind", ["bot", "system"])
def test_a_bot_or_system_message_after_a_close_is_stored_and_leaves_it_closed(inbox, sender_kind):
    conversation_id = _closed_conversation(inbox)
    payload, created = services.message_send(
        conversation_id=conversation_id, sender_kind=sender_kind, text="How did we do? 1-5", client_id="survey"
    )
    assert created and payload["seq"] == 2
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "closed" and conversation.open_slot is None and conversation.closed_at


@pytest.mark.parametrize("sender_kind", ["agent", "customer"])
def test_people_still_cannot_write_into_a_closed_conversation(inbox, make_agent, sender_kind):
    conversation_id = _closed_conversation(inbox)
    sender_user_id = make_agent("alice").pk if sender_kind == "agent" else None
    with pytest.raises(SwitchError) as refused:
        services.message_send(
            conversation_id=conversation_id, sender_kind=sender_kind, sender_user_id=sender_user_id, text="Hi"
        )
    assert refused.value.code == "conversation_closed"
    assert Message.objects.filter(conversation_id=conversation_id).count() == 1


def test_a_bot_message_past_the_reopen_window_is_refused(inbox, settings):
    conversation_id = _closed_conversation(inbox)
    Conversation.objects.filter(pk=conversation_id).update(
        closed_at=timezone.now() - timedelta(seconds=settings.IM_REOPEN_WINDOW_S + 5)
    )
    with pytest.raises(SwitchError) as refused:
        services.message_send(conversation_id=conversation_id, sender_kind="bot", text="Too late")
    assert refused.value.code == "conversation_closed"
    assert Message.objects.filter(conversation_id=conversation_id).count() == 1


@pytest.mark.parametrize(("closed_s_ago", "within"), [(30, True), (90, False)])
def test_the_bot_and_the_customer_share_one_reopen_window(inbox, settings, closed_s_ago, within):
    settings.IM_REOPEN_WINDOW_S = 60
    conversation_id = _closed_conversation(inbox)
    Conversation.objects.filter(pk=conversation_id).update(closed_at=timezone.now() - timedelta(seconds=closed_s_ago))
    conversation = Conversation.objects.get(pk=conversation_id)
    # The survey's bot message is taken exactly when the customer's answer would reopen the conversation.
    if within:
        services.message_send(conversation_id=conversation_id, sender_kind="bot", text="How did we do?")
    else:
        with pytest.raises(SwitchError):
            services.message_send(conversation_id=conversation_id, sender_kind="bot", text="How did we do?")
    answer, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=conversation.contact_id, text="5")
    assert (answer["conversation_id"] == conversation_id) is within


async def test_the_customer_socket_gets_a_bot_message_sent_after_the_close(inbox, widget_session):
    token, _session = widget_session
    communicator = widget_communicator()
    assert (await communicator.connect())[0]
    await send(communicator, {"type": "auth", "token": token, "after_seq": 0})
    await receive_until(communicator, "ready")
    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "Hello"})
    ack = await receive_until(communicator, "message.ack")
    conversation_id = ack["message"]["conversation_id"]

    await database_sync_to_async(services.conversation_close)(conversation_id=conversation_id)
    closed = await receive_until(communicator, "conversation.status")
    while closed["status"] != "closed":
        closed = await receive_until(communicator, "conversation.status")
    await database_sync_to_async(services.message_send)(
        conversation_id=conversation_id, sender_kind="bot", text="How did we do?", buttons=CHOICES
    )
    frame = await receive_until(communicator, "message.new")
    while frame["message"]["sender"]["kind"] != "bot":
        frame = await receive_until(communicator, "message.new")
    assert frame["message"]["text"] == "How did we do?" and frame["message"]["buttons"] == CHOICES
    await communicator.disconnect()


def test_conversation_queue_passes_skills_to_routing(bot_double, inbox, queue, settings):
    bot_double()
    SkillFactory(name="billing")
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="Hello")
    conversation_id = message["conversation_id"]
    assert Conversation.objects.get(pk=conversation_id).status == "bot"
    services.conversation_queue(conversation_id=conversation_id, skills=["billing"])
    assert WorkItem.objects.get(ref=conversation_id).skills == ["billing"]


def test_bot_buttons_ride_on_the_payload_only_when_there_are_some(inbox):
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="Hello")
    conversation_id = message["conversation_id"]
    assert "buttons" not in message
    with_buttons, _ = services.message_send(
        conversation_id=conversation_id, sender_kind="bot", text="Sales or Support?", buttons=CHOICES
    )
    assert with_buttons["buttons"] == CHOICES
    assert Message.objects.get(pk=with_buttons["id"]).buttons == CHOICES
    plain, _ = services.message_send(conversation_id=conversation_id, sender_kind="bot", text="Welcome")
    assert "buttons" not in plain


@pytest.mark.parametrize(
    ("sender_kind", "private", "buttons"),
    [
        ("agent", False, CHOICES),
        ("system", False, CHOICES),
        ("bot", True, CHOICES),
        ("bot", False, "Sales"),
        ("bot", False, [{"label": ""}]),
        ("bot", False, [{"label": "x" * 201}]),
        ("bot", False, [{"label": "Sales", "value": 1}]),
        ("bot", False, [{"label": str(n)} for n in range(11)]),
    ],
)
def test_bad_buttons_are_refused_and_nothing_is_stored(inbox, make_agent, sender_kind, private, buttons):
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="Hello")
    agent_id = make_agent("alice").pk if sender_kind == "agent" else None
    with pytest.raises(SwitchError) as refused:
        services.message_send(
            conversation_id=message["conversation_id"],
            sender_kind=sender_kind,
            sender_user_id=agent_id,
            text="Pick one",
            private=private,
            buttons=buttons,
        )
    assert refused.value.code == "invalid"
    assert Message.objects.filter(conversation_id=message["conversation_id"]).count() == 1
