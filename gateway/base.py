"""The small interface every platform adapter implements, and the plain values they exchange.

An adapter knows one platform: how its webhooks are signed, what its payloads look like, how to send
through its API. It never touches the database; inbound.py and outbox.py do that around it. Adapters are tested
with plain `WebhookRequest` values and a stand-in HTTP server, no Django request or model needed.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from django.conf import settings

from core.outbound import OutboundRefused
from core.text import json_clean, raw_json_may_hold_surrogate


class GatewayError(Exception):
    """Base of the gateway's errors."""


class SignatureInvalid(GatewayError):
    """The webhook is not from the platform (bad or missing signature): 403, nothing stored."""

    code = "bad_signature"


class ReplayRefused(SignatureInvalid):
    """A genuinely signed webhook that is not fresh: its signed timestamp is outside the replay window
    (`stale_timestamp`), or its signed nonce was already used with another body (`replayed`). 403,
    nothing stored."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class PayloadInvalid(GatewayError):
    """The webhook body cannot be read (malformed JSON or XML, refused XML): 400, nothing stored."""


class InboxMisconfigured(GatewayError):
    """A setting or secret the adapter needs is missing from the inbox."""


class SendError(GatewayError):
    """The platform refused or did not answer a send.

    `permanent` errors give up at once (the agent sees the reason); the others are retried with backoff,
    waiting at least `retry_after` seconds when the platform said so (HTTP 429).
    """

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class InboxInfo:
    """What an adapter needs of an inbox: plain values, read once by the selector."""

    id: int
    kind: str
    key: str
    config: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, Any] = field(default_factory=dict)

    def setting(self, name: str, default: Any = None) -> Any:
        value = self.config.get(name)
        return default if value in (None, "") else value

    def secret(self, name: str) -> str:
        value = self.credentials.get(name)
        if not value:
            raise InboxMisconfigured(f"Inbox {self.key!r} has no {name!r} in its credentials.")
        return str(value)


class Headers(dict):
    """Case-insensitive header lookup (keys stored lower-cased)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__({k.lower(): v for k, v in (items or {}).items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class WebhookRequest:
    """An incoming webhook, independent of Django: what every adapter reads."""

    method: str
    url: str  # absolute, as the platform called it (Twilio signs it)
    query: Mapping[str, str]
    headers: Headers
    body: bytes
    form: tuple[tuple[str, str], ...] = ()  # url-encoded form fields in order, repeated keys kept


@dataclass(frozen=True)
class ReplayStamp:
    """What a platform signs besides the body to make each request unique: a time and a nonce. The
    gateway remembers the nonce for as long as the timestamp is acceptable (inbound.webhook_receive)."""

    timestamp: int
    nonce: str
    window_s: int


@dataclass(frozen=True)
class WebhookReply:
    status: int = 200
    body: str = ""
    content_type: str = "text/plain"
    retry_after_s: int | None = None  # sent as Retry-After (429)


@dataclass(frozen=True)
class RawEvent:
    """One event cut out of a webhook, to be stored as-is (InboundEvent) and processed later."""

    platform_message_id: str
    event_kind: str  # "message" | "status"
    payload: dict[str, Any]
    sender_id: str = ""
    sent_at: datetime | None = None


@dataclass(frozen=True)
class MediaRef:
    """A platform's reference to a file it holds: an id to resolve through its API, or a URL."""

    kind: str  # image | document | audio | video | voice | sticker
    media_id: str = ""
    url: str = ""
    content_type: str = ""
    name: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class InboundMessage:
    """A customer message in the internal shape the switch takes."""

    platform_message_id: str
    sender_id: str
    sender_name: str
    text: str
    sent_at: datetime
    media: tuple[MediaRef, ...] = ()
    identity_kind: str = ""  # crm ChannelKind of the sender; defaults to the inbox kind
    # The language the platform says the sender uses (Telegram's language_code): a new contact's language.
    sender_language: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    platform_message_id: str
    status: str  # sent | delivered | read | failed
    error: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class OutboundMessage:
    message_id: int
    conversation_id: int
    recipient: str
    text: str = ""
    attachments: tuple[Mapping[str, Any], ...] = ()  # {"url", "content_type", "name"}
    template: Mapping[str, Any] | None = None
    # A bot's choices ({"label", "value"}): adapters whose platform has quick replies show them there;
    # the others send the text alone, which says how to answer.
    buttons: tuple[Mapping[str, str], ...] = ()
    # The conversation's language (imsubsystem.selectors.conversation_language), for words an adapter
    # adds around the buttons (WhatsApp's list button); set only when there are buttons.
    language: str = ""


@dataclass(frozen=True)
class SendResult:
    platform_message_id: str = ""


class Adapter:
    """One platform. Subclasses set `kind` and implement the methods they need."""

    kind: ClassVar[str] = ""
    # The inbox kinds this webhook path serves (Twilio serves SMS and WhatsApp inboxes).
    inbox_kinds: ClassVar[tuple[str, ...]] = ()
    default_api_base_url: ClassVar[str] = ""
    # Hours after the customer's last message during which free-form replies are allowed, if limited.
    reply_window_hours: ClassVar[int | None] = None
    # Whether each sender's messages draw on the switch's per-sender message bucket at the webhook (a 429
    # the caller retries). Only for callers that retry a 429 later; a platform's own limits apply upstream.
    limits_senders: ClassVar[bool] = False

    # --- inbound -------------------------------------------------------------------------------
    def handshake(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        """Answer the platform's GET check of a new webhook URL."""
        return WebhookReply(status=405, body="This endpoint takes POST webhooks.")

    def verify(self, inbox: InboxInfo, request: WebhookRequest) -> None:
        """Raise SignatureInvalid unless the request is signed by the platform for this inbox."""
        raise NotImplementedError

    def parse(self, inbox: InboxInfo, request: WebhookRequest) -> list[RawEvent]:
        """Cut a verified webhook into events; raise PayloadInvalid if it cannot be read."""
        raise NotImplementedError

    def replay_stamp(self, inbox: InboxInfo, request: WebhookRequest) -> ReplayStamp | None:
        """The signed timestamp and nonce of a verified webhook, for platforms whose signature covers
        them; None for platforms that sign no time (their retries are caught by the events' unique key)."""
        return None

    def reply(self, inbox: InboxInfo, request: WebhookRequest) -> WebhookReply:
        """What to answer once the events are stored."""
        return WebhookReply(status=200, body="ok")

    def message_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> InboundMessage | None:
        """The stored payload of a message event in the internal shape; None for events we skip."""
        raise NotImplementedError

    def status_from_payload(self, inbox: InboxInfo, payload: Mapping[str, Any]) -> DeliveryReport:
        raise NotImplementedError

    def acknowledge(self, inbox: InboxInfo, client: httpx.Client, payload: Mapping[str, Any]) -> None:
        """Tell the platform a stored message event was handled, where it waits for that (Telegram shows
        a spinner on a pressed button until answered). Best effort: raises SendError on failure."""

    # --- outbound ------------------------------------------------------------------------------
    def send(self, inbox: InboxInfo, client: httpx.Client, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def check_connection(self, inbox: InboxInfo, client: httpx.Client) -> str:
        """Call a cheap read-only endpoint with the inbox's credentials; return what it says."""
        raise NotImplementedError

    def media_source(self, inbox: InboxInfo, client: httpx.Client, ref: MediaRef) -> tuple[str, dict[str, str]]:
        """Where to download a platform file from, and the headers that authorise it."""
        if not ref.url:
            raise SendError(f"No way to download {ref.kind} {ref.media_id!r} from this platform.", permanent=True)
        return ref.url, {}

    def reply_window_for(self, inbox: InboxInfo) -> int | None:
        return self.reply_window_hours

    def api_base_url(self, inbox: InboxInfo) -> str:
        return str(inbox.setting("api_base_url", self.default_api_base_url)).rstrip("/")


# --- helpers shared by the adapters ------------------------------------------------------------


def hmac_hex(key: str | bytes, body: bytes, digest: str = "sha256") -> str:
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, body, getattr(hashlib, digest)).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def replay_window_s(inbox: InboxInfo) -> int:
    """Seconds a signed timestamp may be from our clock: the inbox's `replay_window_s`, else
    GATEWAY_REPLAY_WINDOW_S (300)."""
    return int(inbox.setting("replay_window_s", getattr(settings, "GATEWAY_REPLAY_WINDOW_S", 300)))


def timestamp_check(value: Any, *, window_s: int, what: str = "timestamp", now: float | None = None) -> int:
    """The signed unix timestamp as an int; ReplayRefused unless it is within window_s of our clock."""
    try:
        stamp = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise ReplayRefused("stale_timestamp", f"Missing or malformed {what}.") from exc
    if abs((time.time() if now is None else now) - stamp) > window_s:
        raise ReplayRefused("stale_timestamp", f"The {what} is outside the {window_s} s replay window.")
    return stamp


def json_body(request: WebhookRequest) -> Any:
    """The webhook's JSON, with any lone surrogate in its strings replaced by U+FFFD (core/text.py):
    the platform accepted the customer's message, so it is kept rather than refused, and nothing
    unstorable reaches the event row, the contact or the switch."""
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadInvalid(f"The body is not valid JSON: {exc}") from exc
    return json_clean(data) if raw_json_may_hold_surrogate(request.body) else data


def unix_time(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise PayloadInvalid(f"Not a unix timestamp: {value!r}") from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def http_error(response: httpx.Response, reason: str) -> SendError:
    """Classify a failed platform answer: 429, 408 and 5xx are worth retrying; other 4xx are not."""
    status = response.status_code
    transient = status in (408, 425, 429) or status >= 500
    return SendError(
        f"HTTP {status}: {reason}"[:2000],
        permanent=not transient,
        retry_after=retry_after_seconds(response) if status in (429, 503) else None,
    )


def request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One platform call; a network failure or timeout is a retryable SendError."""
    try:
        return client.request(method, url, **kwargs)
    except OutboundRefused as exc:
        # A private or metadata address, or an answer over the size cap: the same call fails again.
        raise SendError(str(exc), permanent=True) from exc
    except httpx.TimeoutException as exc:
        raise SendError(f"The platform did not answer in time ({type(exc).__name__}).", permanent=False) from exc
    except httpx.TransportError as exc:
        raise SendError(f"Could not reach the platform: {exc}", permanent=False) from exc


def response_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
