"""The generic API channel: any platform, through a small connector the integrator writes.

Both directions are JSON signed the same way: X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the
raw body keyed with the inbox secret>, and X-Switchboard-Timestamp: unix seconds, which must equal the
body's own "timestamp" (so the signature covers it) and be within the replay window (default 300 s).
docs/gateway.md has the payloads.

Inbox settings: config `callback_url` (where replies are POSTed), `replay_window_s`; credentials `secret`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from django.utils.dateparse import parse_datetime

from gateway.base import (
    Adapter,
    DeliveryReport,
    InboundMessage,
    InboxInfo,
    InboxMisconfigured,
    MediaRef,
    OutboundMessage,
    PayloadInvalid,
    RawEvent,
    ReplayStamp,
    SendResult,
    SignatureInvalid,
    WebhookReply,
    WebhookRequest,
    constant_time_equal,
    hmac_hex,
    http_error,
    json_body,
    replay_window_s,
    request,
    response_json,
    timestamp_check,
    unix_time,
)

SIGNATURE_HEADER = "X-Switchboard-Signature"
TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
STATUSES = {"sent", "delivered", "read", "failed"}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac_hex(secret, body)


def signed_body(secret: str, payload: Mapping[str, Any], *, now: float | None = None) -> tuple[bytes, dict[str, str]]:
    """A payload stamped with the time, serialised, and the headers that sign it."""
    timestamp = int(now if now is not None else time.time())
    body = json.dumps({**payload, "timestamp": timestamp}, separators=(",", ":"), ensure_ascii=False).encode()
    return body, {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        TIMESTAMP_HEADER: str(timestamp),
    }


def _text(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise PayloadInvalid(f"{field} must be a string.")
    value = str(value)
    if len(value) > limit:
        raise PayloadInvalid(f"{field} is longer than {limit} characters.")
    return value


class ApiAdapter(Adapter):
    kind = "api"
    inbox_kinds = ("api",)
    limits_senders = True

    def verify(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given or not constant_time_equal(given, sign(inbox.secret("secret"), request.body)):
            raise SignatureInvalid(f"Missing or wrong {SIGNATURE_HEADER}.")
        stamp = timestamp_check(
            request.headers.get(TIMESTAMP_HEADER, ""), window_s=replay_window_s(inbox), what=TIMESTAMP_HEADER
        )
        try:
            body_stamp = json.loads(request.body).get("timestamp")
        except (ValueError, AttributeError):
            return  # signed but unreadable: parse() answers 400
        if body_stamp != stamp:
            raise SignatureInvalid(f"The body's timestamp must equal {TIMESTAMP_HEADER}.")

    def replay_stamp(self, inbox: InboxInfo, request: WebhookRequest) -> ReplayStamp:
        # The signature is the nonce: it covers the body, whose event id is unique, so the same signature
        # can only come with the same bytes (a connector's retry, acknowledged through the event id).
        return ReplayStamp(
            timestamp=int(request.headers.get(TIMESTAMP_HEADER, "")),
            nonce=request.headers.get(SIGNATURE_HEADER, ""),
            window_s=replay_window_s(inbox),
        )

    def parse(self, inbox: InboxInfo, request: WebhookRequest) -> list[RawEvent]:
        data = json_body(request)
        if not isinstance(data, dict):
            raise PayloadInvalid("Expected a JSON object.")
        kind = data.get("type", "message")
        event_id = _text(data.get("id"), "id", 191)
        if not event_id:
            raise PayloadInvalid("Every event needs an id, unique in this inbox.")
        if kind == "status":
            if data.get("status") not in STATUSES or not data.get("message_id"):
                raise PayloadInvalid(f"A status needs message_id and a status in {sorted(STATUSES)}.")
            return [RawEvent(platform_message_id=f"status:{event_id}", event_kind="status", payload=data)]
        if kind != "message":
            raise PayloadInvalid('type must be "message" or "status".')
        sender = data.get("sender")
        if not isinstance(sender, dict) or not _text(sender.get("id"), "sender.id", 191):
            raise PayloadInvalid("A message needs sender.id.")
        _text(sender.get("name"), "sender.name", 200)
        _text(data.get("text"), "text", 10000)
        attachments = data.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, dict) and a.get("url") for a in attachments):
            raise PayloadInvalid("attachments must be a list of objects with a url.")
        if not data.get("text") and not attachments:
            raise PayloadInvalid("A message needs text or attachments.")
        return [
            RawEvent(
                platform_message_id=event_id,
                event_kind="message",
                payload=data,
                sender_id=str(sender["id"]),
                sent_at=self._sent_at(data),
            )
        ]

    @staticmethod
    def _sent_at(data: Mapping[str, Any]) -> datetime:
        if data.get("sent_at"):
            value = parse_datetime(str(data["sent_at"]))
            if value is None or value.tzinfo is None:
                raise PayloadInvalid("sent_at must be an ISO 8601 time with a zone, e.g. 2025-01-31T09:30:00Z.")
            return value
        return unix_time(data.get("timestamp"))

    def reply(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        return WebhookReply(status=200, body='{"ok":true}', content_type="application/json")

    def message_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> InboundMessage | None:
        sender = payload["sender"]
        return InboundMessage(
            platform_message_id=str(payload["id"]),
            sender_id=str(sender["id"]),
            sender_name=str(sender.get("name") or ""),
            text=str(payload.get("text") or ""),
            sent_at=self._sent_at(payload),
            media=tuple(
                MediaRef(
                    kind="image" if str(a.get("content_type", "")).startswith("image/") else "document",
                    url=str(a["url"]),
                    content_type=str(a.get("content_type", "")),
                    name=str(a.get("name", "")),
                )
                for a in payload.get("attachments") or []
            ),
        )

    def status_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> DeliveryReport:
        return DeliveryReport(
            platform_message_id=str(payload["message_id"]),
            status=payload["status"],
            error=str(payload.get("error") or "")[:2000],
        )

    # --- outbound ------------------------------------------------------------------------------
    def _callback_url(self, inbox: InboxInfo) -> str:
        url = inbox.setting("callback_url")
        if not url:
            raise InboxMisconfigured(f"Inbox {inbox.key!r} has no callback_url to deliver replies to.")
        return str(url)

    def send(self, inbox: InboxInfo, client: httpx.Client, message: OutboundMessage) -> SendResult:
        payload = {
            "type": "message",
            "id": str(message.message_id),
            "conversation_id": message.conversation_id,
            "recipient": {"id": message.recipient},
            "text": message.text,
            "attachments": [dict(a) for a in message.attachments],
        }
        body, headers = signed_body(inbox.secret("secret"), payload)
        response = request(client, "POST", self._callback_url(inbox), content=body, headers=headers)
        if not response.is_success:
            raise http_error(response, response.text[:500] or response.reason_phrase)
        # A connector may answer with its own id for the message; delivery statuses then refer to it.
        return SendResult(platform_message_id=str(response_json(response).get("id") or message.message_id))

    def check_connection(self, inbox: InboxInfo, client: httpx.Client) -> str:
        body, headers = signed_body(inbox.secret("secret"), {"type": "ping", "id": f"ping-{int(time.time())}"})
        response = request(client, "POST", self._callback_url(inbox), content=body, headers=headers)
        if not response.is_success:
            raise http_error(response, response.text[:500] or response.reason_phrase)
        return f"The connector at {self._callback_url(inbox)} answered HTTP {response.status_code}."
