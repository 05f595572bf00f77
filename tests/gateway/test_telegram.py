"""Telegram adapter: secret-token header, updates built with python-telegram-bot's own objects, sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import telegram

from gateway.base import OutboundMessage, PayloadInvalid, SendError, SignatureInvalid
from gateway.telegram import TelegramAdapter
from tests.gateway.conftest import Reply, inbox_info, make_request

adapter = TelegramAdapter()
CUSTOMER = telegram.User(id=777000111, first_name="Ada", last_name="Lovelace", is_bot=False, username="ada")
CHAT = telegram.Chat(id=777000111, type="private")
WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def tg_inbox(base_url: str = "https://tg.example"):
    return inbox_info(
        "telegram", config={"api_base_url": base_url}, credentials={"bot_token": "123:ABC", "secret_token": "tg-secret"}
    )


def update_body(update_id: int = 1001, message_id: int = 55, **fields) -> bytes:
    message = telegram.Message(message_id=message_id, date=WHEN, chat=CHAT, from_user=CUSTOMER, **fields)
    return json.dumps(telegram.Update(update_id=update_id, message=message).to_dict()).encode()


def headers(token: str = "tg-secret") -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": token}


def test_secret_token_accepted_and_refused():
    body = update_body(text="hi")
    adapter.verify(tg_inbox(), make_request(body=body, headers=headers()))
    for bad in (headers("wrong"), {}):
        with pytest.raises(SignatureInvalid):
            adapter.verify(tg_inbox(), make_request(body=body, headers=bad))


@pytest.mark.parametrize(
    ("fields", "text", "media"),
    [
        ({"text": "Hello there"}, "Hello there", None),
        (
            {
                "photo": (telegram.PhotoSize("small-id", "u1", 90, 90), telegram.PhotoSize("big-id", "u2", 1280, 1280)),
                "caption": "broken",
            },
            "broken",
            ("image", "big-id"),
        ),
        (
            {"document": telegram.Document("doc-id", "u3", file_name="invoice.pdf", mime_type="application/pdf")},
            "",
            ("document", "doc-id"),
        ),
        ({"voice": telegram.Voice("voice-id", "u4", duration=3, mime_type="audio/ogg")}, "", ("voice", "voice-id")),
        ({"location": telegram.Location(longitude=2.2945, latitude=48.8584)}, "Location: 48.8584, 2.2945", None),
    ],
)
def test_inbound_types(fields, text, media):
    body = update_body(**fields)
    (event,) = adapter.parse(tg_inbox(), make_request(body=body, headers=headers()))
    assert event.platform_message_id == "1001" and event.sender_id == "777000111"
    message = adapter.message_from_payload(tg_inbox(), event.payload)
    assert message.platform_message_id == "777000111:55"
    assert message.sender_name == "Ada Lovelace" and message.sent_at == WHEN
    assert message.text == text
    assert ((message.media[0].kind, message.media[0].media_id) if message.media else None) == media


def test_group_chats_are_skipped_and_bad_updates_refused():
    group = telegram.Message(
        message_id=1, date=WHEN, chat=telegram.Chat(id=-100, type="group"), from_user=CUSTOMER, text="x"
    )
    body = json.dumps(telegram.Update(update_id=5, message=group).to_dict()).encode()
    (event,) = adapter.parse(tg_inbox(), make_request(body=body))
    assert adapter.message_from_payload(tg_inbox(), event.payload) is None
    with pytest.raises(PayloadInvalid):
        adapter.parse(tg_inbox(), make_request(body=b"{not json"))
    with pytest.raises(PayloadInvalid):
        adapter.parse(tg_inbox(), make_request(body=b'{"message": {}}'))


def test_send_message_photo_and_document(stand_in):
    counter = iter(range(900, 999))
    stand_in.default = lambda request: Reply(200, {"ok": True, "result": {"message_id": next(counter)}})
    inbox = tg_inbox(stand_in.url)
    with httpx.Client() as client:
        text = adapter.send(
            inbox, client, OutboundMessage(message_id=1, conversation_id=1, recipient="777000111", text="On its way")
        )
        adapter.send(
            inbox,
            client,
            OutboundMessage(
                message_id=2,
                conversation_id=1,
                recipient="777000111",
                text="see attached",
                attachments=(
                    {"url": "https://f.example/p.jpg", "content_type": "image/jpeg"},
                    {"url": "https://f.example/i.pdf", "content_type": "application/pdf"},
                ),
            ),
        )
    assert text.platform_message_id == "777000111:900"
    paths = [r.path for r in stand_in.requests]
    assert paths == ["/bot123:ABC/sendMessage", "/bot123:ABC/sendPhoto", "/bot123:ABC/sendDocument"]
    assert stand_in.requests[0].json() == {"chat_id": "777000111", "text": "On its way"}
    assert stand_in.requests[1].json() == {
        "chat_id": "777000111",
        "photo": "https://f.example/p.jpg",
        "caption": "see attached",
    }
    assert stand_in.requests[2].json() == {"chat_id": "777000111", "document": "https://f.example/i.pdf"}


def test_send_errors(stand_in):
    stand_in.script = [
        Reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
        ),
        Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    ]
    message = OutboundMessage(message_id=1, conversation_id=1, recipient="1", text="x")
    with httpx.Client() as client:
        with pytest.raises(SendError) as slow:
            adapter.send(tg_inbox(stand_in.url), client, message)
        with pytest.raises(SendError) as blocked:
            adapter.send(tg_inbox(stand_in.url), client, message)
    assert not slow.value.permanent and slow.value.retry_after == 7
    assert blocked.value.permanent and "blocked" in blocked.value.reason


def test_set_webhook_and_check_connection(stand_in):
    stand_in.script = [
        Reply(200, {"ok": True, "result": True}),
        Reply(200, {"ok": True, "result": {"id": 123, "username": "shop_bot"}}),
    ]
    with httpx.Client() as client:
        adapter.set_webhook(tg_inbox(stand_in.url), client, url="https://sb.example/gateway/telegram/k/")
        assert "@shop_bot" in adapter.check_connection(tg_inbox(stand_in.url), client)
    call = stand_in.requests[0]
    assert call.path == "/bot123:ABC/setWebhook"
    assert call.json()["url"] == "https://sb.example/gateway/telegram/k/" and call.json()["secret_token"] == "tg-secret"
