"""End to end: a customer on the widget socket and on Telegram (through the gateway's webhook and outbox)
is welcomed, picks from the menu and is handed to a person, all answered by the bot worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import telegram
from channels.db import database_sync_to_async

from imsubsystem import auth
from imsubsystem.models import Conversation
from tests.factories import InboxFactory
from tests.gateway.conftest import Reply, stand_in  # noqa: F401
from tests.imsubsystem.conftest import receive_until, send, widget_communicator

from .conftest import build_flow

pytestmark = pytest.mark.django_db(transaction=True)


async def bot_messages(communicator, count: int) -> list[dict]:
    found = []
    while len(found) < count:
        frame = await receive_until(communicator, "message.new")
        if frame["message"]["sender"]["kind"] == "bot" and not frame["message"]["private"]:
            found.append(frame["message"])
    return found


async def test_widget_customer_is_welcomed_routed_and_queued(inbox, queues):
    await database_sync_to_async(build_flow)(inbox, queues)
    token, _ = await database_sync_to_async(auth.widget_session_create)(inbox=inbox, name="Vera")
    communicator = widget_communicator()
    connected, _ = await communicator.connect()
    assert connected
    await send(communicator, {"type": "auth", "token": token, "after_seq": 0})
    await receive_until(communicator, "ready")

    await send(communicator, {"type": "message.send", "client_id": "c1", "text": "hello"})
    welcome, greet, menu = await bot_messages(communicator, 3)
    assert (welcome["text"], greet["text"]) == ("Welcome to the shop!", "Hi Vera!")
    # The widget shows buttons, so the options travel on the frame instead of as numbered lines.
    assert menu["text"] == "Sales or Support?"
    assert menu["buttons"] == [{"label": "Sales", "value": "1"}, {"label": "Support", "value": "2"}]
    assert "buttons" not in welcome and "buttons" not in greet
    assert welcome["sender"] == {"kind": "bot", "name": "Assistant"}

    await send(communicator, {"type": "message.send", "client_id": "c2", "text": "{{ settings.SECRET_KEY }}"})
    (reask,) = await bot_messages(communicator, 1)
    assert reask["text"].startswith("Please choose one of the options.")

    await send(communicator, {"type": "message.send", "client_id": "c3", "text": "agent"})
    status = await receive_until(communicator, "conversation.status")
    while status["status"] != "queued":
        status = await receive_until(communicator, "conversation.status")
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=menu["conversation_id"])
    assert conversation.status == "queued" and conversation.queue_id == queues["support"].pk
    await communicator.disconnect()


def tg_update(update_id: int, text: str) -> bytes:
    user = telegram.User(id=4242, first_name="Ada", is_bot=False)
    message = telegram.Message(
        message_id=update_id,
        date=datetime.now(UTC),
        chat=telegram.Chat(id=4242, type="private"),
        from_user=user,
        text=text,
    )
    return json.dumps(telegram.Update(update_id=update_id, message=message).to_dict()).encode()


def test_telegram_customer_gets_numbered_options_and_is_handed_over(client, queues, stand_in):  # noqa: F811
    stand_in.default = lambda request: Reply(200, {"ok": True, "result": {"message_id": len(stand_in.requests)}})
    inbox = InboxFactory(
        kind="telegram",
        key="tg-bot",
        default_queue=queues["support"],
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "1:A", "secret_token": "s3cret"},
    )
    build_flow(inbox, queues)

    def post(update_id, text):
        response = client.post(
            "/gateway/telegram/tg-bot/",
            tg_update(update_id, text),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s3cret",
        )
        assert response.status_code == 200

    post(1, "hello")
    sent = [r.json()["text"] for r in stand_in.accepted if r.path.endswith("/sendMessage")]
    assert sent == ["Welcome to the shop!", "Hi Ada!", "Sales or Support?\n1. Sales\n2. Support"]

    post(2, "1")
    conversation = Conversation.objects.get(inbox=inbox)
    assert conversation.status == "queued" and conversation.queue_id == queues["sales"].pk
    sent = [r.json()["text"] for r in stand_in.accepted if r.path.endswith("/sendMessage")]
    assert sent[3] == "Connecting you now."
    # The private hand-over note never goes to the platform.
    assert not any("Bot hand-over" in text for text in sent)
