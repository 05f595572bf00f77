"""Telegram Bot API: updates POSTed with X-Telegram-Bot-Api-Secret-Token, sends through {base}/bot<token>/.

Inbox settings: config `api_base_url` (default https://api.telegram.org); credentials `bot_token`,
`secret_token` (the value given to setWebhook, echoed by Telegram on every update).
Only private chats are served: the chat id is the customer's user id, which is where replies go.
A bot message's choices go out as an inline keyboard (one button per row, the choice's value as
callback_data); a press comes back as a `callback_query` update and becomes the customer's message
with the choice's value as its text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.base import (
    Adapter,
    InboundMessage,
    InboxInfo,
    MediaRef,
    OutboundMessage,
    PayloadInvalid,
    RawEvent,
    SendError,
    SendResult,
    SignatureInvalid,
    WebhookRequest,
    constant_time_equal,
    http_error,
    json_body,
    request,
    response_json,
    unix_time,
)

MESSAGE_KEYS = ("message", "edited_message")
# Telegram's limit on callback_data is 64 bytes.
CALLBACK_DATA_MAX_BYTES = 64


class TelegramAdapter(Adapter):
    kind = "telegram"
    inbox_kinds = ("telegram",)
    default_api_base_url = "https://api.telegram.org"

    def verify(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        token = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not token or not constant_time_equal(token, inbox.secret("secret_token")):
            raise SignatureInvalid("Missing or wrong X-Telegram-Bot-Api-Secret-Token.")

    def parse(self, inbox: InboxInfo, request: WebhookRequest) -> list[RawEvent]:
        update = json_body(request)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise PayloadInvalid("Expected a Telegram Update with an integer update_id.")
        callback = update.get("callback_query")
        if isinstance(callback, dict) and callback.get("id"):
            chat = ((callback.get("message") or {}).get("chat")) or {}
            return [
                RawEvent(
                    # One press is one update; a re-sent update keeps its update_id.
                    platform_message_id=str(update["update_id"]),
                    event_kind="message",
                    payload=update,
                    sender_id=str(chat.get("id", (callback.get("from") or {}).get("id", ""))),
                    sent_at=datetime.now(UTC),
                )
            ]
        message = next((update[k] for k in MESSAGE_KEYS if isinstance(update.get(k), dict)), None)
        if message is None:
            # Updates we do not serve (polls, member changes...) are acknowledged and not stored.
            return []
        sender = message.get("from") or {}
        return [
            RawEvent(
                # Telegram re-sends an update with the same update_id until it gets a 2xx.
                platform_message_id=str(update["update_id"]),
                event_kind="message",
                payload=update,
                sender_id=str((message.get("chat") or {}).get("id", sender.get("id", ""))),
                sent_at=unix_time(message.get("edit_date") or message.get("date")),
            )
        ]

    def message_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> InboundMessage | None:
        if isinstance(payload.get("callback_query"), dict):
            return self._button_press(payload["callback_query"])
        message = next(payload[k] for k in MESSAGE_KEYS if isinstance(payload.get(k), dict))
        chat = message.get("chat") or {}
        if chat.get("type") != "private":
            return None
        sender = message.get("from") or {}
        name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p) or sender.get(
            "username", ""
        )
        media: list[MediaRef] = []
        text = message.get("text") or message.get("caption") or ""
        if message.get("photo"):
            # Telegram lists the same photo in several sizes, smallest first.
            largest = message["photo"][-1]
            media.append(MediaRef(kind="image", media_id=largest["file_id"], content_type="image/jpeg"))
        for key, kind in (("document", "document"), ("voice", "voice"), ("audio", "audio"), ("video", "video")):
            part = message.get(key)
            if part:
                media.append(
                    MediaRef(
                        kind=kind,
                        media_id=part["file_id"],
                        content_type=part.get("mime_type", ""),
                        name=part.get("file_name", ""),
                    )
                )
        if message.get("location"):
            loc = message["location"]
            text = f"Location: {loc.get('latitude')}, {loc.get('longitude')}"
        if message.get("contact"):
            contact = message["contact"]
            text = f"Shared contact: {contact.get('first_name', '')} {contact.get('phone_number', '')}".strip()
        if message.get("edit_date"):
            text = f"(edited) {text}"
        return InboundMessage(
            platform_message_id=f"{chat['id']}:{message['message_id']}",
            sender_id=str(chat["id"]),
            sender_name=name,
            text=text,
            sent_at=unix_time(message.get("edit_date") or message.get("date")),
            media=tuple(media),
            sender_language=str(sender.get("language_code") or ""),
        )

    def _button_press(self, callback: Mapping[str, Any]) -> InboundMessage | None:
        """A press on an inline keyboard button: the customer's answer is the button's value."""
        message = callback.get("message") or {}
        chat = message.get("chat") or {}
        data = callback.get("data")
        if chat.get("type") != "private" or not isinstance(data, str) or not data.strip():
            return None
        sender = callback.get("from") or {}
        name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p) or sender.get(
            "username", ""
        )
        return InboundMessage(
            platform_message_id=f"{chat['id']}:callback:{callback['id']}",
            sender_id=str(chat["id"]),
            sender_name=name,
            text=data,
            sent_at=datetime.now(UTC),
        )

    # --- outbound ------------------------------------------------------------------------------
    def method_url(self, inbox: InboxInfo, method: str) -> str:
        return f"{self.api_base_url(inbox)}/bot{inbox.secret('bot_token')}/{method}"

    def call(self, inbox: InboxInfo, client: httpx.Client, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = request(client, "POST", self.method_url(inbox, method), json=dict(body))
        data = response_json(response)
        if response.is_success and data.get("ok"):
            return data.get("result") or {}
        reason = data.get("description") or response.reason_phrase
        retry_after = (data.get("parameters") or {}).get("retry_after")
        error = http_error(response, f"{method}: {reason}")
        if retry_after is not None:
            return_error = SendError(error.reason, permanent=False, retry_after=float(retry_after))
            raise return_error
        raise error

    def send(self, inbox: InboxInfo, client: httpx.Client, message: OutboundMessage) -> SendResult:
        chat_id = message.recipient
        caption = message.text
        last: dict[str, Any] = {}
        for attachment in message.attachments:
            is_photo = str(attachment.get("content_type", "")).startswith("image/")
            method, field = ("sendPhoto", "photo") if is_photo else ("sendDocument", "document")
            body: dict[str, Any] = {"chat_id": chat_id, field: attachment["url"]}
            if caption:
                body["caption"] = caption[:1024]
                caption = ""
            last = self.call(inbox, client, method, body)
        keyboard = self.inline_keyboard(message.buttons)
        if caption or (keyboard and message.text):
            body = {"chat_id": chat_id, "text": caption or message.text}
            if keyboard:
                body["reply_markup"] = keyboard
            last = self.call(inbox, client, "sendMessage", body)
        return SendResult(platform_message_id=f"{chat_id}:{last['message_id']}" if last.get("message_id") else "")

    def acknowledge(self, inbox: InboxInfo, client: httpx.Client, payload: Mapping[str, Any]) -> None:
        callback = payload.get("callback_query")
        if isinstance(callback, dict) and callback.get("id"):
            self.call(inbox, client, "answerCallbackQuery", {"callback_query_id": str(callback["id"])})

    @staticmethod
    def inline_keyboard(buttons) -> dict[str, Any] | None:
        """One button a row; a value too long for callback_data makes the whole keyboard unsendable, so
        the text (which says how to answer) goes alone."""
        rows = []
        for button in buttons:
            data = button.get("value") or button.get("label") or ""
            if not data or len(data.encode()) > CALLBACK_DATA_MAX_BYTES:
                return None
            rows.append([{"text": button.get("label") or data, "callback_data": data}])
        return {"inline_keyboard": rows} if rows else None

    def media_source(self, inbox: InboxInfo, client: httpx.Client, ref: MediaRef) -> tuple[str, dict[str, str]]:
        file = self.call(inbox, client, "getFile", {"file_id": ref.media_id})
        if not file.get("file_path"):
            raise SendError(
                "Telegram gave no file_path (files over 20 MB cannot be downloaded by bots).", permanent=True
            )
        return f"{self.api_base_url(inbox)}/file/bot{inbox.secret('bot_token')}/{file['file_path']}", {}

    def check_connection(self, inbox: InboxInfo, client: httpx.Client) -> str:
        me = self.call(inbox, client, "getMe", {})
        return f"Connected as @{me.get('username', '?')} (bot id {me.get('id', '?')})."

    def set_webhook(self, inbox: InboxInfo, client: httpx.Client, *, url: str) -> str:
        self.call(
            inbox,
            client,
            "setWebhook",
            {
                "url": url,
                "secret_token": inbox.secret("secret_token"),
                "allowed_updates": ["message", "edited_message", "callback_query"],
            },
        )
        return f"Telegram will POST updates to {url}."
