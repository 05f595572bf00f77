"""WhatsApp Cloud API (Meta): webhooks signed with X-Hub-Signature-256, sends through the Graph API.

Inbox settings: config `phone_number_id`, `api_base_url` (default https://graph.facebook.com),
`api_version` (default v21.0); credentials `access_token`, `app_secret`, `verify_token`.
A bot message's choices go out as an interactive message: reply buttons for up to three, a list for up
to ten (the choice's value as the reply id); the customer's pick comes back as an interactive
`button_reply` or `list_reply` and becomes their message with the choice's title (its label) as text.
Choices that do not fit WhatsApp's limits go out as the plain text, which says how to answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from django.utils import translation
from django.utils.translation import pgettext

from gateway.base import (
    Adapter,
    DeliveryReport,
    InboundMessage,
    InboxInfo,
    MediaRef,
    OutboundMessage,
    PayloadInvalid,
    RawEvent,
    SendError,
    SendResult,
    SignatureInvalid,
    WebhookReply,
    WebhookRequest,
    constant_time_equal,
    hmac_hex,
    http_error,
    json_body,
    request,
    response_json,
    unix_time,
)
from imsubsystem.selectors import ui_language

# Graph error codes that mean "slow down", not "never": throughput, rate and spam-rate limits.
RATE_LIMIT_CODES = {4, 80007, 130429, 131048, 131056}
# Sent outside the 24-hour customer-service window.
WINDOW_CLOSED_CODES = {131047}
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
DOCUMENTED_STATUSES = {"sent", "delivered", "read", "failed"}
# Interactive message limits (Cloud API reference, "Interactive object").
REPLY_BUTTONS_MAX, REPLY_BUTTON_TITLE_MAX = 3, 20
LIST_ROWS_MAX, LIST_ROW_TITLE_MAX = 10, 24
INTERACTIVE_BODY_MAX, REPLY_ID_MAX = 1024, 200


class WhatsAppAdapter(Adapter):
    kind = "whatsapp"
    inbox_kinds = ("whatsapp",)
    default_api_base_url = "https://graph.facebook.com"
    reply_window_hours = 24

    def handshake(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        mode = request.query.get("hub.mode", "")
        token = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge", "")
        if mode != "subscribe" or not challenge:
            return WebhookReply(status=400, body="Expected hub.mode=subscribe with a hub.challenge.")
        if not constant_time_equal(token, inbox.secret("verify_token")):
            return WebhookReply(status=403, body="Wrong verify token.")
        return WebhookReply(status=200, body=challenge)

    def verify(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        header = request.headers.get("X-Hub-Signature-256", "")
        if not header.startswith("sha256="):
            raise SignatureInvalid("Missing X-Hub-Signature-256.")
        expected = hmac_hex(inbox.secret("app_secret"), request.body)
        if not constant_time_equal(header[len("sha256=") :], expected):
            raise SignatureInvalid("X-Hub-Signature-256 does not match the body.")

    def parse(self, inbox: InboxInfo, request: WebhookRequest) -> list[RawEvent]:
        data = json_body(request)
        if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
            raise PayloadInvalid("Expected a WhatsApp Business Account webhook with an entry list.")
        events: list[RawEvent] = []
        for entry in data["entry"]:
            for change in (entry or {}).get("changes") or []:
                value = (change or {}).get("value") or {}
                if (change or {}).get("field") != "messages" or not isinstance(value, dict):
                    continue
                names = {
                    str(c.get("wa_id")): (c.get("profile") or {}).get("name", "")
                    for c in value.get("contacts") or []
                    if isinstance(c, dict)
                }
                metadata = value.get("metadata") or {}
                for message in value.get("messages") or []:
                    if not isinstance(message, dict) or not message.get("id"):
                        raise PayloadInvalid("A message without an id.")
                    sender = str(message.get("from", ""))
                    events.append(
                        RawEvent(
                            platform_message_id=str(message["id"]),
                            event_kind="message",
                            payload={"message": message, "profile_name": names.get(sender, ""), "metadata": metadata},
                            sender_id=sender,
                            sent_at=unix_time(message.get("timestamp")),
                        )
                    )
                for status in value.get("statuses") or []:
                    if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
                        raise PayloadInvalid("A status without an id.")
                    events.append(
                        RawEvent(
                            # One row per (message, status): "delivered" and "read" are two events.
                            platform_message_id=f"status:{status['id']}:{status['status']}",
                            event_kind="status",
                            payload={"status": status},
                            sender_id=str(status.get("recipient_id", "")),
                            sent_at=unix_time(status.get("timestamp")),
                        )
                    )
        return events

    def message_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> InboundMessage | None:
        message = payload["message"]
        kind = message.get("type")
        text = ""
        media: list[MediaRef] = []
        if kind == "text":
            text = (message.get("text") or {}).get("body", "")
        elif kind in MEDIA_TYPES:
            part = message.get(kind) or {}
            text = part.get("caption", "")
            media.append(
                MediaRef(
                    kind="voice" if kind == "audio" and part.get("voice") else kind,
                    media_id=str(part.get("id", "")),
                    content_type=part.get("mime_type", ""),
                    name=part.get("filename", ""),
                )
            )
        elif kind == "location":
            loc = message.get("location") or {}
            label = ", ".join(p for p in (loc.get("name"), loc.get("address")) if p)
            text = f"Location: {loc.get('latitude')}, {loc.get('longitude')}" + (f" ({label})" if label else "")
        elif kind == "interactive":
            interactive = message.get("interactive") or {}
            reply = interactive.get(interactive.get("type", "")) or {}
            # What the customer saw and picked, as the widget sends a button's label.
            text = reply.get("title", "") or reply.get("id", "")
        elif kind == "button":
            button = message.get("button") or {}
            text = button.get("text", "") or button.get("payload", "")
        elif kind == "contacts":
            names = [(c.get("name") or {}).get("formatted_name", "") for c in message.get("contacts") or []]
            text = "Shared contact: " + ", ".join(n for n in names if n)
        elif kind in ("reaction", "system", "unsupported", "ephemeral"):
            return None
        else:
            text = f"({kind} message)"
        return InboundMessage(
            platform_message_id=str(message["id"]),
            sender_id=str(message.get("from", "")),
            sender_name=payload.get("profile_name", ""),
            text=text,
            sent_at=unix_time(message.get("timestamp")),
            media=tuple(media),
        )

    def status_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> DeliveryReport:
        status = payload["status"]
        errors = status.get("errors") or []
        error = ""
        if errors:
            first = errors[0]
            details = (first.get("error_data") or {}).get("details", "")
            error = f"{first.get('code', '')} {first.get('title', '')}: {details or first.get('message', '')}".strip()
        value = status.get("status")
        return DeliveryReport(
            platform_message_id=str(status["id"]),
            status=value if value in DOCUMENTED_STATUSES else "sent",
            error=error,
            at=unix_time(status.get("timestamp")),
        )

    # --- outbound ------------------------------------------------------------------------------
    def _url(self, inbox: InboxInfo, path: str) -> str:
        version = inbox.setting("api_version", "v21.0")
        return f"{self.api_base_url(inbox)}/{version}/{path}"

    def _headers(self, inbox: InboxInfo) -> dict[str, str]:
        return {"Authorization": f"Bearer {inbox.secret('access_token')}"}

    def _bodies(self, message: OutboundMessage) -> list[dict[str, Any]]:
        base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.recipient}
        if message.template:
            return [{**base, "type": "template", "template": dict(message.template)}]
        bodies = []
        caption = message.text
        for attachment in message.attachments:
            content_type = str(attachment.get("content_type", ""))
            kind = next((k for k in ("image", "audio", "video") if content_type.startswith(k + "/")), "document")
            part: dict[str, Any] = {"link": attachment["url"]}
            if kind == "document" and attachment.get("name"):
                part["filename"] = attachment["name"]
            # WhatsApp shows a caption under images, videos and documents, not audio.
            if caption and kind != "audio":
                part["caption"] = caption
                caption = ""
            bodies.append({**base, "type": kind, kind: part})
        interactive = self.interactive(message.text, message.buttons, message.language)
        if interactive is not None:
            bodies.append({**base, "type": "interactive", "interactive": interactive})
        elif caption:
            bodies.insert(0, {**base, "type": "text", "text": {"preview_url": False, "body": caption}})
        return bodies

    @staticmethod
    def interactive(text: str, buttons, language: str = "") -> dict[str, Any] | None:
        """Reply buttons (up to three) or a list (up to ten) for a bot's choices; None when they do not
        fit WhatsApp's limits, and the text goes alone. The list's button is named in the customer's
        language (docs/i18n.md, "Customers")."""
        if not buttons or not text.strip() or len(text) > INTERACTIVE_BODY_MAX:
            return None
        choices = [(b.get("value") or b.get("label") or "", b.get("label") or b.get("value") or "") for b in buttons]
        if any(not value or len(value) > REPLY_ID_MAX for value, _ in choices):
            return None
        if len(choices) <= REPLY_BUTTONS_MAX and all(len(label) <= REPLY_BUTTON_TITLE_MAX for _, label in choices):
            return {
                "type": "button",
                "body": {"text": text},
                "action": {
                    "buttons": [{"type": "reply", "reply": {"id": value, "title": label}} for value, label in choices]
                },
            }
        if len(choices) <= LIST_ROWS_MAX and all(len(label) <= LIST_ROW_TITLE_MAX for _, label in choices):
            with translation.override(ui_language(language)):
                choose = pgettext("whatsapp list button", "Choose")
            return {
                "type": "list",
                "body": {"text": text},
                "action": {
                    "button": choose,
                    "sections": [{"title": choose, "rows": [{"id": v, "title": label} for v, label in choices]}],
                },
            }
        return None

    def send(self, inbox: InboxInfo, client: httpx.Client, message: OutboundMessage) -> SendResult:
        url = self._url(inbox, f"{inbox.setting('phone_number_id') or inbox.secret('phone_number_id')}/messages")
        ids = []
        for body in self._bodies(message):
            response = request(client, "POST", url, json=body, headers=self._headers(inbox))
            data = response_json(response)
            if response.is_success:
                ids.append(str(((data.get("messages") or [{}])[0]).get("id", "")))
                continue
            raise self._error(response, data)
        return SendResult(platform_message_id=ids[-1] if ids else "")

    def _error(self, response: httpx.Response, data: Mapping[str, Any]) -> SendError:
        error = data.get("error") or {}
        code = error.get("code")
        details = (error.get("error_data") or {}).get("details", "")
        reason = f"{code} {error.get('message', response.reason_phrase)}" + (f": {details}" if details else "")
        if code in WINDOW_CLOSED_CODES:
            return SendError(
                "Outside WhatsApp's 24-hour customer-service window: only an approved template can be sent. " + reason,
                permanent=True,
            )
        classified = http_error(response, reason)
        if code in RATE_LIMIT_CODES:
            return SendError(classified.reason, permanent=False, retry_after=classified.retry_after)
        return classified

    def media_source(self, inbox: InboxInfo, client: httpx.Client, ref: MediaRef) -> tuple[str, dict[str, str]]:
        # A media id resolves to a short-lived URL that itself needs the access token.
        response = request(client, "GET", self._url(inbox, ref.media_id), headers=self._headers(inbox))
        data = response_json(response)
        if not response.is_success or not data.get("url"):
            raise self._error(response, data)
        return str(data["url"]), self._headers(inbox)

    def check_connection(self, inbox: InboxInfo, client: httpx.Client) -> str:
        phone_number_id = inbox.setting("phone_number_id", "")
        response = request(
            client,
            "GET",
            self._url(inbox, phone_number_id),
            params={"fields": "display_phone_number,verified_name"},
            headers=self._headers(inbox),
        )
        data = response_json(response)
        if not response.is_success:
            raise self._error(response, data)
        return f"Connected: {data.get('verified_name', '')} {data.get('display_phone_number', '')}".strip()
