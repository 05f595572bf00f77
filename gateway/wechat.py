"""WeChat official account: signed GET check, XML POSTs in plain or AES safe mode, customer-service sends.

Inbox settings: config `api_base_url` (default https://api.weixin.qq.com), `encryption` ("safe" refuses
unencrypted posts; otherwise both are taken, as in WeChat's compatible mode); credentials `token`,
`app_id`, `app_secret`, `encoding_aes_key`.

Safe mode follows WeChat's scheme exactly: msg_signature = sha1 of the sorted token, timestamp, nonce and
Encrypt; Encrypt = base64(AES-256-CBC(key = base64(EncodingAESKey + "="), iv = key[:16]) of
16 random bytes + 4-byte big-endian length + XML + app id, PKCS#7-padded to 32 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from django.core.cache import cache

from gateway.base import (
    Adapter,
    InboundMessage,
    InboxInfo,
    InboxMisconfigured,
    MediaRef,
    OutboundMessage,
    PayloadInvalid,
    RawEvent,
    ReplayStamp,
    SendError,
    SendResult,
    SignatureInvalid,
    WebhookReply,
    WebhookRequest,
    constant_time_equal,
    http_error,
    replay_window_s,
    request,
    response_json,
    timestamp_check,
    unix_time,
)

TOKEN_EXPIRED_CODES = {40001, 40014, 42001}
BUSY_CODES = {-1, 45009, 45011}
WINDOW_CLOSED_CODES = {45015, 45047}
PAD_BLOCK = 32


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def xml_fields(body: bytes | str) -> dict[str, str]:
    """The children of the root <xml> element as a flat dict. DTDs and entities are refused."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ET.ParseError, ValueError) as exc:
        raise PayloadInvalid(f"Refused XML: {type(exc).__name__}: {exc}") from exc
    if root.tag != "xml":
        raise PayloadInvalid("Expected a WeChat <xml> document.")
    return {child.tag: (child.text or "") for child in root}


class WeChatCipher:
    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        try:
            self.key = base64.b64decode(encoding_aes_key + "=")
        except ValueError as exc:
            raise InboxMisconfigured("The EncodingAESKey is not valid base64.") from exc
        if len(self.key) != 32:
            raise InboxMisconfigured("The EncodingAESKey must be 43 characters (32 bytes).")
        self.app_id = app_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, xml: str) -> str:
        raw = xml.encode()
        plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + self.app_id.encode()
        pad = PAD_BLOCK - len(plain) % PAD_BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except ValueError as exc:
            raise PayloadInvalid("Encrypt is not base64.") from exc
        if not data or len(data) % 16:
            raise PayloadInvalid("Encrypt has the wrong length.")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise PayloadInvalid("Encrypt does not decrypt with this inbox's EncodingAESKey.")
        content = plain[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        xml, app_id = content[4 : 4 + length], content[4 + length :]
        if app_id.decode(errors="replace") != self.app_id:
            raise PayloadInvalid("The encrypted message is for another app id.")
        try:
            return xml.decode()
        except UnicodeDecodeError as exc:
            raise PayloadInvalid("The decrypted message is not UTF-8.") from exc


class WeChatAdapter(Adapter):
    kind = "wechat"
    inbox_kinds = ("wechat",)
    default_api_base_url = "https://api.weixin.qq.com"
    reply_window_hours = 48

    def _check_plain_signature(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        q = request.query
        expected = signature(inbox.secret("token"), q.get("timestamp", ""), q.get("nonce", ""))
        if not q.get("signature") or not constant_time_equal(q.get("signature", ""), expected):
            raise SignatureInvalid("The signature does not match this inbox's token.")

    def handshake(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        try:
            self._check_plain_signature(inbox, request)
            timestamp_check(request.query.get("timestamp"), window_s=replay_window_s(inbox))
        except SignatureInvalid as exc:
            return WebhookReply(status=403, body=f"Forbidden: {exc.code}.")
        return WebhookReply(status=200, body=request.query.get("echostr", ""))

    @staticmethod
    def _encrypted(request: WebhookRequest) -> bool:
        return request.query.get("encrypt_type", "raw") == "aes"

    def verify(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        q = request.query
        if not self._encrypted(request):
            if inbox.setting("encryption") == "safe":
                raise SignatureInvalid("This inbox takes only safe-mode (encrypted) messages.")
            self._check_plain_signature(inbox, request)
        else:
            encrypted = xml_fields(request.body).get("Encrypt", "")
            expected = signature(inbox.secret("token"), q.get("timestamp", ""), q.get("nonce", ""), encrypted)
            if not encrypted or not constant_time_equal(q.get("msg_signature", ""), expected):
                raise SignatureInvalid("msg_signature does not match the encrypted message.")
        # The signature covers only token, timestamp and nonce (plus Encrypt in safe mode): without a
        # freshness check a captured request could be replayed forever, in plain mode with any body.
        timestamp_check(q.get("timestamp"), window_s=replay_window_s(inbox))
        if not q.get("nonce"):
            raise SignatureInvalid("The request has no nonce.")

    def replay_stamp(self, inbox: InboxInfo, request: WebhookRequest) -> ReplayStamp:
        q = request.query
        return ReplayStamp(timestamp=int(q["timestamp"]), nonce=q["nonce"], window_s=replay_window_s(inbox))

    def cipher(self, inbox: InboxInfo) -> WeChatCipher:
        return WeChatCipher(inbox.secret("encoding_aes_key"), inbox.secret("app_id"))

    def parse(self, inbox: InboxInfo, request: WebhookRequest) -> list[RawEvent]:
        fields = xml_fields(request.body)
        if self._encrypted(request):
            fields = xml_fields(self.cipher(inbox).decrypt(fields.get("Encrypt", "")))
        for required in ("FromUserName", "CreateTime", "MsgType"):
            if not fields.get(required):
                raise PayloadInvalid(f"The message has no {required}.")
        # Events carry no MsgId; WeChat's own advice is to dedupe them on sender + CreateTime.
        key = fields.get("MsgId") or f"event:{fields['FromUserName']}:{fields['CreateTime']}:{fields.get('Event', '')}"
        return [
            RawEvent(
                platform_message_id=key,
                event_kind="message",
                payload=fields,
                sender_id=fields["FromUserName"],
                sent_at=unix_time(fields["CreateTime"]),
            )
        ]

    def reply(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        # "success" tells WeChat not to retry and not to show "service unavailable" to the customer.
        return WebhookReply(status=200, body="success")

    def message_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> InboundMessage | None:
        kind = payload.get("MsgType")
        text = ""
        media: list[MediaRef] = []
        if kind == "text":
            text = payload.get("Content", "")
        elif kind == "image":
            media.append(MediaRef(kind="image", media_id=payload.get("MediaId", ""), url=payload.get("PicUrl", "")))
        elif kind == "voice":
            # With speech recognition on, WeChat sends its transcript: the agent reads it at once.
            text = payload.get("Recognition", "")
            media.append(
                MediaRef(
                    kind="voice", media_id=payload.get("MediaId", ""), name=f"voice.{payload.get('Format', 'amr')}"
                )
            )
        elif kind in ("video", "shortvideo"):
            media.append(MediaRef(kind="video", media_id=payload.get("MediaId", "")))
        elif kind == "location":
            label = payload.get("Label", "")
            text = f"Location: {payload.get('Location_X')}, {payload.get('Location_Y')}" + (
                f" ({label})" if label else ""
            )
        elif kind == "link":
            text = f"{payload.get('Title', '')} {payload.get('Url', '')}".strip()
        elif kind == "event":
            if payload.get("Event") != "subscribe":
                return None
            text = "(followed the official account)"
        else:
            text = f"({kind} message)"
        return InboundMessage(
            platform_message_id=payload.get("MsgId") or "",
            sender_id=payload["FromUserName"],
            sender_name="",
            text=text,
            sent_at=unix_time(payload["CreateTime"]),
            media=tuple(media),
        )

    # --- outbound ------------------------------------------------------------------------------
    @staticmethod
    def _token_cache_key(inbox: InboxInfo) -> str:
        return (
            f"gateway:wechat:access_token:{inbox.id}:{hashlib.sha256(inbox.secret('app_id').encode()).hexdigest()[:12]}"
        )

    def access_token(self, inbox: InboxInfo, client: httpx.Client, *, refresh: bool = False) -> str:
        key = self._token_cache_key(inbox)
        if not refresh:
            cached = cache.get(key)
            if cached:
                return cached
        response = request(
            client,
            "GET",
            f"{self.api_base_url(inbox)}/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": inbox.secret("app_id"),
                "secret": inbox.secret("app_secret"),
            },
        )
        data = response_json(response)
        if not response.is_success or not data.get("access_token"):
            raise self._error(response, data, "token")
        # Refresh five minutes early so a token never expires between the cache read and the call.
        ttl = max(60, int(data.get("expires_in", 7200)) - 300)
        cache.set(key, data["access_token"], ttl)
        return data["access_token"]

    def _error(self, response: httpx.Response, data: Mapping[str, Any], call: str) -> SendError:
        code = data.get("errcode")
        reason = f"{call}: errcode {code} {data.get('errmsg', '')}".strip() if code is not None else call
        if code in WINDOW_CLOSED_CODES:
            return SendError(
                "Outside WeChat's 48-hour customer-service window (or its reply limit): the customer must "
                f"write first. {reason}",
                permanent=True,
            )
        if code in BUSY_CODES:
            return SendError(reason, permanent=False, retry_after=60.0 if code != -1 else None)
        if not response.is_success:
            return http_error(response, reason)
        return SendError(reason, permanent=True)

    def call(self, inbox: InboxInfo, client: httpx.Client, path: str, **kwargs: Any) -> dict[str, Any]:
        """POST an API call with the cached access token, refreshing it once when WeChat says it expired."""
        for refresh in (False, True):
            token = self.access_token(inbox, client, refresh=refresh)
            response = request(
                client, "POST", f"{self.api_base_url(inbox)}{path}", params={"access_token": token}, **kwargs
            )
            data = response_json(response)
            if response.is_success and data.get("errcode", 0) == 0:
                return data
            if data.get("errcode") in TOKEN_EXPIRED_CODES and not refresh:
                continue
            raise self._error(response, data, path.rsplit("/", 1)[-1])
        raise SendError("WeChat refused a fresh access token.", permanent=False)

    def _upload_image(self, inbox: InboxInfo, client: httpx.Client, attachment: Mapping[str, Any]) -> str:
        download = request(client, "GET", str(attachment["url"]))
        if not download.is_success:
            raise http_error(download, "fetching the attachment to upload")
        name = str(attachment.get("name") or "image.jpg")
        content_type = str(attachment.get("content_type") or "image/jpeg")
        data = self.call(
            inbox,
            client,
            "/cgi-bin/media/upload",
            data={"type": "image"},
            files={"media": (name, download.content, content_type)},
        )
        return str(data["media_id"])

    def send(self, inbox: InboxInfo, client: httpx.Client, message: OutboundMessage) -> SendResult:
        text = message.text
        for attachment in message.attachments:
            if str(attachment.get("content_type", "")).startswith("image/"):
                media_id = self._upload_image(inbox, client, attachment)
                body = {"touser": message.recipient, "msgtype": "image", "image": {"media_id": media_id}}
                self.call(inbox, client, "/cgi-bin/message/custom/send", json=body)
            else:
                # Customer-service messages carry no files: the customer gets a link instead.
                text = f"{text}\n{attachment.get('name') or 'File'}: {attachment['url']}".strip()
        if text:
            body = {"touser": message.recipient, "msgtype": "text", "text": {"content": text}}
            self.call(inbox, client, "/cgi-bin/message/custom/send", json=body)
        # The customer-service API answers errcode 0 and no message id.
        return SendResult()

    def media_source(self, inbox: InboxInfo, client: httpx.Client, ref: MediaRef) -> tuple[str, dict[str, str]]:
        if ref.url:
            return ref.url, {}
        token = self.access_token(inbox, client)
        query = urlencode({"access_token": token, "media_id": ref.media_id})
        return f"{self.api_base_url(inbox)}/cgi-bin/media/get?{query}", {}

    def check_connection(self, inbox: InboxInfo, client: httpx.Client) -> str:
        self.access_token(inbox, client, refresh=True)
        return "Connected: WeChat issued an access token for this app id."
