"""Twilio Programmable Messaging: SMS/MMS, and WhatsApp through Twilio, on one webhook path.

An inbox of kind "sms" sends and receives text messages; an inbox of kind "whatsapp" whose config says
`"provider": "twilio"` talks to WhatsApp through Twilio (addresses prefixed "whatsapp:").
Inbox settings: config `from_number` (E.164) or `messaging_service_sid`, `api_base_url` (default
https://api.twilio.com), `status_callback_url` (optional), `webhook_url` (the exact public URL Twilio
calls, when a proxy changes what Django sees); credentials `account_sid`, `auth_token`.

X-Twilio-Signature = base64(HMAC-SHA1(auth token, full URL + each POST parameter name and value, sorted
by name)). Twilio inbound webhooks carry no timestamp: a message's time is when it reached us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from django.utils import timezone

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
    http_error,
    request,
    response_json,
)

STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
WINDOW_CLOSED_CODES = {63016}
RATE_LIMIT_CODES = {20429, 14107}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_signature(auth_token: str, url: str, form: tuple[tuple[str, str], ...]) -> str:
    # As Twilio builds it: names sorted, and each name's distinct values sorted.
    data = url + "".join(name + value for name, value in sorted(set(form)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, and with the default port added or removed: Twilio signs the URL it was
    configured with, and a proxy may add or strip the port on the way to us."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is not None:
        other = parts._replace(netloc=host if parts.port == default else parts.netloc)
    else:
        other = parts._replace(netloc=f"{host}:{default}" if default else parts.netloc)
    return list(dict.fromkeys([url, urlunsplit(other)]))


class TwilioAdapter(Adapter):
    kind = "twilio"
    inbox_kinds = ("sms", "whatsapp")
    default_api_base_url = "https://api.twilio.com"

    def reply_window_for(self, inbox: InboxInfo) -> int | None:
        return 24 if inbox.kind == "whatsapp" else None

    def verify(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        given = request.headers.get("X-Twilio-Signature", "")
        if not given:
            raise SignatureInvalid("Missing X-Twilio-Signature.")
        url = inbox.setting("webhook_url") or request.url
        token = inbox.secret("auth_token")
        if not any(constant_time_equal(given, twilio_signature(token, u, request.form)) for u in url_variants(url)):
            raise SignatureInvalid("X-Twilio-Signature does not match the URL and parameters.")

    def parse(self, inbox: InboxInfo, request: WebhookRequest) -> list[RawEvent]:
        form = dict(request.form)
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sid or not form.get("From"):
            raise PayloadInvalid("Expected a Twilio message webhook with MessageSid and From.")
        now = timezone.now()
        if form.get("SmsStatus") != "received" and form.get("MessageStatus") and "Body" not in form:
            status = form["MessageStatus"]
            return [
                RawEvent(
                    platform_message_id=f"status:{sid}:{status}",
                    event_kind="status",
                    payload=form,
                    sender_id=form.get("To", ""),
                    sent_at=now,
                )
            ]
        return [
            RawEvent(platform_message_id=sid, event_kind="message", payload=form, sender_id=form["From"], sent_at=now)
        ]

    def reply(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        # An empty TwiML response: we answer later through the API, not in the webhook reply.
        return WebhookReply(status=200, body=EMPTY_TWIML, content_type="text/xml")

    @staticmethod
    def address(value: str) -> tuple[str, str]:
        """(crm channel kind, external id) of a Twilio address; WhatsApp ids are digits, as Meta's wa_id."""
        if value.startswith("whatsapp:"):
            return "whatsapp", value.removeprefix("whatsapp:").lstrip("+")
        return "sms", value

    def message_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> InboundMessage | None:
        identity_kind, sender = self.address(payload["From"])
        try:
            count = int(payload.get("NumMedia") or 0)
        except ValueError:
            count = 0
        media = tuple(
            MediaRef(
                kind="image" if str(payload.get(f"MediaContentType{i}", "")).startswith("image/") else "document",
                url=payload[f"MediaUrl{i}"],
                content_type=payload.get(f"MediaContentType{i}", ""),
            )
            for i in range(min(count, 10))
            if payload.get(f"MediaUrl{i}")
        )
        return InboundMessage(
            platform_message_id=payload.get("MessageSid") or payload["SmsSid"],
            sender_id=sender,
            sender_name=payload.get("ProfileName", ""),
            text=payload.get("Body", ""),
            sent_at=timezone.now(),
            media=media,
            identity_kind=identity_kind,
        )

    def status_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> DeliveryReport:
        status = STATUS_MAP.get(payload.get("MessageStatus", ""), "sent")
        error = ""
        if payload.get("ErrorCode"):
            error = f"Twilio error {payload['ErrorCode']} {payload.get('ErrorMessage', '')}".strip()
        return DeliveryReport(
            platform_message_id=payload.get("MessageSid") or payload["SmsSid"], status=status, error=error
        )

    # --- outbound ------------------------------------------------------------------------------
    def _auth(self, inbox: InboxInfo) -> tuple[str, str]:
        return inbox.secret("account_sid"), inbox.secret("auth_token")

    def _to(self, inbox: InboxInfo, recipient: str) -> str:
        if inbox.kind == "whatsapp":
            return f"whatsapp:+{recipient.removeprefix('whatsapp:').lstrip('+')}"
        return recipient

    def send(self, inbox: InboxInfo, client: httpx.Client, message: OutboundMessage) -> SendResult:
        form: list[tuple[str, str]] = [("To", self._to(inbox, message.recipient))]
        if inbox.setting("messaging_service_sid"):
            form.append(("MessagingServiceSid", inbox.setting("messaging_service_sid")))
        else:
            sender = str(inbox.setting("from_number") or inbox.secret("from_number"))
            form.append(("From", f"whatsapp:{sender}" if inbox.kind == "whatsapp" else sender))
        if message.template:
            form.append(("ContentSid", str(message.template.get("content_sid", ""))))
            form.append(("ContentVariables", json.dumps(message.template.get("variables") or {})))
        else:
            if message.text:
                form.append(("Body", message.text))
            form.extend(("MediaUrl", str(a["url"])) for a in message.attachments)
        if inbox.setting("status_callback_url"):
            form.append(("StatusCallback", inbox.setting("status_callback_url")))
        account_sid, _ = self._auth(inbox)
        url = f"{self.api_base_url(inbox)}/2010-04-01/Accounts/{account_sid}/Messages.json"
        response = request(
            client,
            "POST",
            url,
            content=urlencode(form),  # a list of pairs: MediaUrl repeats once per attachment
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=self._auth(inbox),
        )
        data = response_json(response)
        if response.is_success and data.get("sid"):
            return SendResult(platform_message_id=str(data["sid"]))
        raise self._error(response, data)

    def _error(self, response: httpx.Response, data: Mapping[str, Any]) -> SendError:
        code = data.get("code")
        reason = f"Twilio error {code}: {data.get('message', response.reason_phrase)}"
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
        # Accounts with "HTTP basic authentication for media" need the credentials; others ignore them.
        credentials = base64.b64encode(":".join(self._auth(inbox)).encode()).decode()
        return ref.url, {"Authorization": f"Basic {credentials}"}

    def check_connection(self, inbox: InboxInfo, client: httpx.Client) -> str:
        account_sid, _ = self._auth(inbox)
        url = f"{self.api_base_url(inbox)}/2010-04-01/Accounts/{account_sid}.json"
        response = request(client, "GET", url, auth=self._auth(inbox))
        data = response_json(response)
        if not response.is_success:
            raise self._error(response, data)
        return f"Connected: account {data.get('friendly_name', account_sid)} is {data.get('status', 'unknown')}."
