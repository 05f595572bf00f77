"""The inbound path: receiving a webhook, and turning each stored event into the switch's message.

`webhook_receive` verifies a webhook, stores each event once (unique on inbox + platform id) and queues
`inbound_event_process` on commit; that task finds the contact and hands the message to the switch's
`inbound_message_receive` (a status event goes to `delivery.delivery_report_apply` instead). The
platform's files follow after commit (platform_media.py). docs/gateway.md, "Inbound path".
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crm.services import identity_get_or_create
from gateway import selectors
from gateway.base import (
    Adapter,
    InboundMessage,
    InboxInfo,
    InboxMisconfigured,
    PayloadInvalid,
    ReplayRefused,
    ReplayStamp,
    SendError,
    SignatureInvalid,
    WebhookReply,
    WebhookRequest,
)
from gateway.delivery import delivery_report_apply
from gateway.models import InboundEvent, InboundEventKind
from gateway.platform_http import http_client
from gateway.platform_media import platform_media_pending
from gateway.registry import adapter_for_inbox, adapter_for_path
from imsubsystem import selectors as switch_selectors
from imsubsystem.ratelimit import api_sender_identity, message_rate_take_many
from imsubsystem.services import SwitchError, inbound_message_receive

logger = logging.getLogger(__name__)

# Switch refusals that will not change on a retry; anything else (a lock timeout...) is retried.
PERMANENT_SWITCH_ERRORS = frozenset({"invalid", "forbidden", "empty", "too_long", "unknown_attachment"})


def webhook_receive(
    *, kind: str, inbox_key: str, request: WebhookRequest, on_new_event: Callable[[int], Any]
) -> WebhookReply:
    """Verify a webhook, store its events once, and queue each new one (`on_new_event(event_id)` after
    commit). Returns what to answer the platform: 404 unknown inbox, 403 bad signature or a stale or
    replayed request (`{"error": {"code", "detail"}}`), 400 unreadable body (nothing stored in those
    cases), else the platform's expected acknowledgement."""
    adapter = adapter_for_path(kind)
    inbox = selectors.inbox_info_by_key(key=inbox_key)
    if adapter is None or inbox is None or adapter_for_inbox(inbox) is not adapter:
        return WebhookReply(status=404, body="No such inbox.")
    try:
        if request.method == "GET":
            return adapter.handshake(inbox, request)
        adapter.verify(inbox, request)
        stamp = adapter.replay_stamp(inbox, request)
        if stamp is not None:
            webhook_nonce_claim(inbox_id=inbox.id, stamp=stamp, body=request.body)
        events = adapter.parse(inbox, request)
    except SignatureInvalid as exc:
        logger.warning("gateway: refused %s webhook for inbox %s (%s): %s", kind, inbox.key, exc.code, exc)
        detail = str(exc) if isinstance(exc, ReplayRefused) else "The request is not signed for this inbox."
        return WebhookReply(
            status=403,
            body=json.dumps({"error": {"code": exc.code, "detail": detail}}),
            content_type="application/json",
        )
    except PayloadInvalid as exc:
        return WebhookReply(status=400, body=str(exc)[:500])
    except InboxMisconfigured as exc:
        logger.error("gateway: inbox %s is misconfigured: %s", inbox.key, exc)
        return WebhookReply(status=503, body="This inbox is not configured.")

    if adapter.limits_senders:
        senders = [event.sender_id for event in events if event.event_kind == InboundEventKind.MESSAGE]
        waits = message_rate_take_many([api_sender_identity(inbox.id, sender) for sender in senders])
        if any(waits):
            wait = max(waits)
            return WebhookReply(
                status=429, body=f"Too many messages from this sender: retry in {wait} s.", retry_after_s=wait
            )

    for event in events:
        event_id = inbound_event_store(
            inbox_id=inbox.id,
            platform_message_id=event.platform_message_id,
            event_kind=event.event_kind,
            payload=event.payload,
            sender_id=event.sender_id,
            sent_at=event.sent_at,
        )
        if event_id is not None:
            transaction.on_commit(lambda event_id=event_id: on_new_event(event_id))
    return adapter.reply(inbox, request)


def webhook_nonce_claim(*, inbox_id: int, stamp: ReplayStamp, body: bytes, now: float | None = None) -> None:
    """Remember a signed (timestamp, nonce) for as long as that timestamp passes the window check, or
    raise ReplayRefused("replayed") when it was already used with another body.

    One atomic add (Redis `SET NX` with a TTL in production, the local-memory cache in the embedded
    profile). The same nonce with the very same body passes: that is a platform's own retry, which the
    events' unique key turns into a no-op (or completes, if the first attempt failed before storing)."""
    now = time.time() if now is None else now
    key = "gateway:nonce:{}:{}".format(
        inbox_id, hashlib.sha256(f"{stamp.timestamp}:{stamp.nonce}".encode()).hexdigest()[:40]
    )
    fingerprint = hashlib.sha256(body).hexdigest()
    # The timestamp stays acceptable until timestamp + window, which is up to two windows from now.
    ttl = max(1, int(stamp.timestamp + stamp.window_s - now) + 1)
    for _attempt in range(2):
        if cache.add(key, fingerprint, timeout=ttl):
            return
        seen = cache.get(key)
        if seen == fingerprint:
            return
        if seen is not None:
            raise ReplayRefused("replayed", "This signed timestamp and nonce were already used.")
        # Expired between the two calls: claim it again.
    raise ReplayRefused("replayed", "This signed timestamp and nonce were already used.")


def inbound_event_store(
    *,
    inbox_id: int,
    platform_message_id: str,
    event_kind: str,
    payload: dict[str, Any],
    sender_id: str = "",
    sent_at: datetime | None = None,
) -> int | None:
    """Store a raw event; None when this inbox already has it (a retried or repeated webhook)."""
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                inbox_id=inbox_id,
                platform_message_id=platform_message_id[:191],
                event_kind=event_kind,
                payload=payload,
                sender_id=sender_id[:191],
                sent_at=sent_at,
            )
    except IntegrityError:
        return None
    return event.pk


def _media_text(message: InboundMessage) -> str:
    if message.text or not message.media:
        return message.text
    return " ".join(f"({ref.kind})" for ref in message.media)


def inbound_event_process(*, event_id: int, on_media: Callable[[int, int, dict], Any] = lambda *a: None) -> None:
    """Turn one stored event into a message for the switch, or a delivery status for the agent.

    Idempotent: a processed event is skipped, and the switch itself is idempotent on the platform
    message id, so a task run twice (a worker lost after the switch stored it) stores one message.

    The switch refuses with its `SwitchError`, a `core.errors.DomainError` whose `code` says why: the
    codes in PERMANENT_SWITCH_ERRORS close the event with the reason, any other is raised for the task
    to retry."""
    event = InboundEvent.objects.filter(pk=event_id).first()
    if event is None or event.processed_at is not None:
        return
    InboundEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1)
    inbox = selectors.inbox_info_get(inbox_id=event.inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if inbox is None or adapter is None:
        _event_done(event_id, error="The inbox no longer exists or has no platform.")
        return
    try:
        if event.event_kind == InboundEventKind.STATUS:
            delivery_report_apply(inbox_id=inbox.id, report=adapter.status_from_payload(inbox, event.payload))
            _event_done(event_id)
            return
        message = adapter.message_from_payload(inbox, event.payload)
        if message is None:
            _event_done(event_id, error="Skipped: not a customer message.")
            return
        channel_kind = message.identity_kind or inbox.kind
        # A new contact takes the language the platform reports (docs/i18n.md, "Customers"); a known contact's
        # language, perhaps set by an agent, is never changed here.
        language = switch_selectors.language_normalize(message.sender_language)
        identity, _created = identity_get_or_create(
            kind=channel_kind,
            external_id=message.sender_id,
            display_name=message.sender_name,
            defaults={"language": language} if language else None,
        )
        with transaction.atomic():
            attachment_ids = platform_media_pending(inbox=inbox, channel_kind=channel_kind, message=message)
            _payload, created = inbound_message_receive(
                inbox_id=inbox.id,
                contact_id=identity.contact_id,
                text=_media_text(message) if not attachment_ids else message.text,
                # Events without a platform message id (WeChat's subscribe) are keyed by our event row.
                platform_message_id=message.platform_message_id or event.platform_message_id,
                sent_at=message.sent_at,
                attachment_ids=attachment_ids,
            )
            if not created:
                # The switch already had this message: drop the new placeholders and fetch nothing.
                transaction.set_rollback(True)
            for attachment_id, ref in zip(attachment_ids, message.media, strict=False):
                transaction.on_commit(lambda a=attachment_id, r=ref: on_media(a, inbox.id, r.as_dict()), robust=True)
        _event_done(event_id)
        _acknowledge(inbox, adapter, event.payload)
        return
    except SwitchError as exc:
        if exc.code not in PERMANENT_SWITCH_ERRORS:
            InboundEvent.objects.filter(pk=event_id).update(error=str(exc)[:2000])
            raise
        _event_done(event_id, error=f"Refused by the switch: {exc}")
        return
    except (ValidationError, PayloadInvalid, KeyError, TypeError) as exc:
        # The parser or a service refused this event for good: keep it, with why, and do not retry.
        _event_done(event_id, error=f"Refused: {exc}")
        return
    except Exception as exc:
        InboundEvent.objects.filter(pk=event_id).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _acknowledge(inbox: InboxInfo, adapter: Adapter, payload: dict[str, Any]) -> None:
    try:
        with http_client() as client:
            adapter.acknowledge(inbox, client, payload)
    except (SendError, InboxMisconfigured) as exc:
        logger.info("Could not acknowledge an event of inbox %s: %s", inbox.key, exc)


def _event_done(event_id: int, *, error: str = "") -> None:
    InboundEvent.objects.filter(pk=event_id).update(processed_at=timezone.now(), error=error[:2000])
