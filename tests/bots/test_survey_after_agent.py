"""The survey after a normal conversation (bot, hand-over, a chat with an agent, the agent's close) is
recorded on the closed conversation, which stays closed and out of the agent's list: through the switch,
and through Telegram's inline keyboard and WhatsApp's interactive list on the real gateway."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pytest
import telegram

from bots.models import BotSession, SurveyResponse
from gateway.models import InboundEvent
from imsubsystem import selectors
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Message
from routing.models import Offer
from tests.factories import InboxFactory
from tests.gateway.conftest import Reply, StandIn, allow_outbound
from tests.gateway.test_whatsapp import signed as wa_signed
from tests.gateway.test_whatsapp import wa_message, webhook_body

from .conftest import build_flow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stand_in(settings):
    """A local HTTP server standing in for the platform's API (tests/gateway/conftest.py), allow-listed for
    the outbound guard by its host and port."""
    server = StandIn()
    allow_outbound(settings, server.url)
    yield server
    server.close()


def _chat_with_alice_then_close(conversation_id: int, alice, customer_writes) -> None:
    """Alice takes the offer; the customer and Alice talk; Alice closes (the survey goes out)."""
    offer = Offer.objects.get(ref=conversation_id, status="open")
    switch.offer_answer(offer_id=offer.id, agent_id=alice.pk, accept=True)
    customer_writes("My parcel 4471 is late")
    switch.message_send(
        conversation_id=conversation_id, sender_kind="agent", sender_user_id=alice.pk, text="It ships today."
    )
    customer_writes("Thanks a lot")
    switch.conversation_close(conversation_id=conversation_id, by_user_id=alice.pk)


def _assert_recorded_and_closed(conversation_id: int, alice, rating: int) -> SurveyResponse:
    survey = SurveyResponse.objects.get(conversation_id=conversation_id)
    assert survey.delivered and survey.rating == rating and survey.agent_id == alice.pk
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "closed"
    assert conversation_id not in [c["id"] for c in selectors.conversations_for_agent(user_id=alice.pk)]
    assert BotSession.objects.get(conversation_id=conversation_id).survey_stage == "comment"
    bot_texts = list(
        Message.objects.filter(conversation_id=conversation_id, sender_kind="bot", private=False)
        .order_by("seq")
        .values_list("text", flat=True)
    )
    assert bot_texts[-1].startswith("Thank you! Anything you would like to add?")
    return survey


def test_a_rating_after_a_chat_with_an_agent_is_recorded_and_the_conversation_stays_closed(
    flow, inbox, contact, make_agent
):
    alice = make_agent("alice")

    def customer_writes(text: str) -> dict:
        payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text)
        return payload

    conversation_id = customer_writes("hello")["conversation_id"]
    customer_writes("agent")
    assert Conversation.objects.get(pk=conversation_id).status == "offered"
    _chat_with_alice_then_close(conversation_id, alice, customer_writes)
    question = Message.objects.filter(conversation_id=conversation_id, sender_kind="bot").latest("seq")
    assert question.text.startswith("How did we do?")
    assert [b["label"] for b in question.buttons] == ["1", "2", "3", "4", "5"]

    rating = customer_writes("5")
    assert rating["conversation_id"] == conversation_id
    _assert_recorded_and_closed(conversation_id, alice, 5)

    customer_writes("Quick and kind")
    survey = SurveyResponse.objects.get(conversation_id=conversation_id)
    assert survey.comment == "Quick and kind"
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "closed"
    assert Message.objects.filter(conversation_id=conversation_id).latest("seq").text == "Thank you for your feedback!"
    assert BotSession.objects.get(conversation_id=conversation_id).survey_stage == ""

    # Anything else after that reopens the conversation to the bot as before.
    customer_writes("One more question")
    assert Conversation.objects.get(pk=conversation_id).status in ("bot", "queued", "offered")


def test_a_reply_that_is_not_a_rating_reopens_the_conversation(flow, inbox, contact, make_agent):
    alice = make_agent("alice")

    def customer_writes(text: str) -> dict:
        payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text)
        return payload

    conversation_id = customer_writes("agent")["conversation_id"]
    _chat_with_alice_then_close(conversation_id, alice, customer_writes)
    customer_writes("Where is my refund?")
    assert Conversation.objects.get(pk=conversation_id).status != "closed"
    assert SurveyResponse.objects.get(conversation_id=conversation_id).rating is None


# --- Telegram: inline keyboard out, callback_query in -------------------------------------------------------
TG_USER = telegram.User(id=4242, first_name="Ada", is_bot=False)
TG_CHAT = telegram.Chat(id=4242, type="private")


def _telegram_stand_in(stand_in):
    ids = itertools.count(500)

    def answer(recorded):
        if recorded.path.endswith("/answerCallbackQuery"):
            return Reply(body={"ok": True, "result": True})
        return Reply(body={"ok": True, "result": {"message_id": next(ids)}})

    stand_in.default = answer


def _post_tg(client, update: telegram.Update):
    body = json.dumps(update.to_dict()).encode()
    response = client.post(
        "/gateway/telegram/tg-shop/", body, content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s3"
    )
    assert response.status_code == 200


def test_telegram_rating_goes_out_as_an_inline_keyboard_and_a_press_records_it(client, stand_in, queues, make_agent):
    _telegram_stand_in(stand_in)
    inbox = InboxFactory(
        kind="telegram",
        key="tg-shop",
        default_queue=queues["support"],
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "1:A", "secret_token": "s3"},
    )
    build_flow(inbox, queues)
    alice = make_agent("alice")
    message_ids = itertools.count(10)
    update_ids = itertools.count(1000)

    def customer_writes(text: str) -> None:
        message = telegram.Message(
            message_id=next(message_ids), date=datetime.now(UTC), chat=TG_CHAT, from_user=TG_USER, text=text
        )
        _post_tg(client, telegram.Update(update_id=next(update_ids), message=message))

    customer_writes("agent")
    conversation = Conversation.objects.get(inbox=inbox)
    _chat_with_alice_then_close(conversation.pk, alice, customer_writes)

    sent = [r.json() for r in stand_in.accepted if r.path.endswith("/sendMessage")]
    survey_request = sent[-1]
    assert survey_request["text"].startswith("How did we do?")
    keyboard = survey_request["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["1"], ["2"], ["3"], ["4"], ["5"]]
    assert [row[0]["callback_data"] for row in keyboard] == ["1", "2", "3", "4", "5"]

    # The customer presses "4" under the question Telegram shows.
    shown = telegram.Message(
        message_id=999, date=datetime.now(UTC), chat=TG_CHAT, from_user=telegram.User(1, "Shop", True), text="How"
    )
    press = telegram.CallbackQuery(id="cbq-1", from_user=TG_USER, chat_instance="ci-1", message=shown, data="4")
    update_id = next(update_ids)
    _post_tg(client, telegram.Update(update_id=update_id, callback_query=press))
    _post_tg(client, telegram.Update(update_id=update_id, callback_query=press))  # redelivered: once

    _assert_recorded_and_closed(conversation.pk, alice, 4)
    assert Message.objects.filter(conversation=conversation, sender_kind="customer", text="4").count() == 1
    answered = [r.json() for r in stand_in.accepted if r.path.endswith("/answerCallbackQuery")]
    assert answered and answered[0]["callback_query_id"] == "cbq-1"
    sent = [r.json() for r in stand_in.accepted if r.path.endswith("/sendMessage")]
    assert sent[-1]["text"].startswith("Thank you! Anything you would like to add?")
    assert InboundEvent.objects.filter(error__startswith="Refused").count() == 0


# --- WhatsApp: interactive list out, list_reply / button_reply in -------------------------------------------
def _now_ts() -> str:
    return str(int(datetime.now(UTC).timestamp()))


def _post_wa(client, message: dict):
    body = webhook_body(messages=[message])
    response = client.post(
        "/gateway/whatsapp/wa-shop/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=wa_signed(body)["X-Hub-Signature-256"],
    )
    assert response.status_code == 200


@pytest.mark.parametrize("reply_kind", ["list_reply", "button_reply"])
def test_whatsapp_rating_goes_out_as_an_interactive_message_and_the_reply_records_it(
    client, stand_in, queues, make_agent, reply_kind
):
    ids = itertools.count(1)
    stand_in.default = lambda recorded: Reply(body={"messages": [{"id": f"wamid.out{next(ids)}"}]})
    inbox = InboxFactory(
        kind="whatsapp",
        key="wa-shop",
        default_queue=queues["support"],
        config={"phone_number_id": "106540352242922", "api_base_url": stand_in.url},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "verify-me"},
    )
    build_flow(inbox, queues)
    alice = make_agent("alice")
    counter = itertools.count(1)

    def customer_writes(text: str) -> None:
        _post_wa(client, wa_message("text", {"body": text}, mid=f"wamid.in{next(counter)}", ts=_now_ts()))

    customer_writes("agent")
    conversation = Conversation.objects.get(inbox=inbox)
    _chat_with_alice_then_close(conversation.pk, alice, customer_writes)

    survey_request = stand_in.accepted[-1].json()
    assert survey_request["type"] == "interactive"
    interactive = survey_request["interactive"]
    assert interactive["body"]["text"].startswith("How did we do?")
    # Five choices are more than WhatsApp's three reply buttons: a list.
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [(str(n), str(n)) for n in range(1, 6)]

    reply = {"id": "5", "title": "5"} if reply_kind == "button_reply" else {"id": "5", "title": "5", "description": ""}
    _post_wa(
        client,
        wa_message(
            "interactive", {"type": reply_kind, reply_kind: reply}, mid=f"wamid.in{next(counter)}", ts=_now_ts()
        ),
    )
    _assert_recorded_and_closed(conversation.pk, alice, 5)
    last = stand_in.accepted[-1].json()
    assert last["type"] == "text" and last["text"]["body"].startswith("Thank you! Anything you would like to add?")


def test_whatsapp_up_to_three_choices_are_reply_buttons():
    from gateway.whatsapp import WhatsAppAdapter

    choices = [{"label": "Leave a message", "value": "leave"}, {"label": "No, thanks", "value": "no"}]
    interactive = WhatsAppAdapter.interactive("We are closed.", choices)
    assert interactive["type"] == "button"
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [
        {"id": "leave", "title": "Leave a message"},
        {"id": "no", "title": "No, thanks"},
    ]
    # A label over WhatsApp's limits: the text goes alone.
    assert WhatsAppAdapter.interactive("Pick", [{"label": "x" * 30, "value": "x"}] * 11) is None
