"""The gateway's writes: receiving webhooks, processing stored events, the outbox and its drain.

Inbound: `webhook_receive` verifies, stores each event once (unique on inbox + platform id) and queues
`inbound_event_process` on commit; that task finds the contact and hands the message to the switch.
Outbound: the switch's `message_stored` signal lands in `outbox_enqueue_for_message` inside the message's
transaction; `outbox_drain` sends a conversation's rows in order, one at a time, each claimed with a
conditional UPDATE and a lease. docs/gateway.md explains the delivery guarantees.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.outbound import outbound_client
from core.text import text_clean
from crm.services import identity_get_or_create
from gateway import selectors
from gateway.base import (
    Adapter,
    DeliveryReport,
    InboundMessage,
    InboxInfo,
    InboxMisconfigured,
    MediaRef,
    OutboundMessage,
    PayloadInvalid,
    ReplayRefused,
    ReplayStamp,
    SendError,
    SignatureInvalid,
    WebhookReply,
    WebhookRequest,
)
from gateway.models import InboundEvent, InboundEventKind, OutboxItem, OutboxState
from gateway.registry import adapter_for_inbox, adapter_for_path
from imsubsystem.ratelimit import api_sender_identity, message_rate_take_many

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 900.0
# Switch refusals that will not change on a retry; anything else (a lock timeout...) is retried.
PERMANENT_SWITCH_ERRORS = frozenset({"invalid", "forbidden", "empty", "too_long", "unknown_attachment"})
DELIVERY_RANKS = {"": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


class EventNotReady(Exception):
    """A delivery report for a send whose platform id is not recorded yet (the report can beat our
    own write by milliseconds): the task tries again shortly."""


# --- inbound --------------------------------------------------------------------------------------


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
    sent_at=None,
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


def _pending_attachments(*, inbox: InboxInfo, channel_kind: str, message: InboundMessage) -> list[int]:
    """A pending attachment per platform file, so the message shows them as downloading at once; the
    files are fetched after commit (platform_media_fetch)."""
    from media.services import attachment_create_pending

    return [
        attachment_create_pending(
            channel_kind=channel_kind,
            uploader_kind="platform",
            uploader_id=str(inbox.id),
            name=ref.name,
            claimed_type=ref.content_type,
        ).pk
        for ref in message.media[:10]
    ]


def inbound_event_process(*, event_id: int, on_media: Callable[[int, int, dict], Any] = lambda *a: None) -> None:
    """Turn one stored event into a message for the switch, or a delivery status for the agent.

    Idempotent: a processed event is skipped, and the switch itself is idempotent on the platform
    message id, so a task run twice (a worker lost after the switch stored it) stores one message."""
    from imsubsystem.services import SwitchError, inbound_message_receive

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
        identity, _created = identity_get_or_create(
            kind=channel_kind, external_id=message.sender_id, display_name=message.sender_name
        )
        with transaction.atomic():
            attachment_ids = _pending_attachments(inbox=inbox, channel_kind=channel_kind, message=message)
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


def platform_media_failed(*, attachment_id: int, reason: str) -> None:
    from media.models import Attachment
    from media.services import attachment_mark_failed

    attachment = Attachment.objects.filter(pk=attachment_id, status="pending").first()
    if attachment is not None:
        attachment_mark_failed(attachment=attachment, reason=reason)


def platform_media_fetch(*, attachment_id: int, inbox_id: int, ref: dict[str, str]) -> None:
    """Resolve a platform's file reference to a download (the adapter knows the platform's API and
    auth) and hand it to the media app, which checks and stores it. The platform's credentials stay in
    this process: they never travel through the broker."""
    from media.services import attachment_fetch_remote

    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if inbox is None or adapter is None:
        return
    with http_client() as client:
        url, headers = adapter.media_source(inbox, client, MediaRef(**ref))
    attachment_fetch_remote(attachment_id=attachment_id, url=url, headers=headers)


def _event_done(event_id: int, *, error: str = "") -> None:
    InboundEvent.objects.filter(pk=event_id).update(processed_at=timezone.now(), error=error[:2000])


def delivery_report_apply(*, inbox_id: int, report: DeliveryReport) -> bool:
    """Record a platform's delivery report and tell the agent. Reports only move forward
    (sent < delivered < read; failed), so a late "delivered" after "read" changes nothing.
    Returns whether anything changed."""
    item = OutboxItem.objects.filter(inbox_id=inbox_id, platform_message_id=report.platform_message_id).first()
    if item is None:
        raise EventNotReady(f"No send with platform id {report.platform_message_id!r} (yet).")
    if DELIVERY_RANKS.get(report.status, 0) <= DELIVERY_RANKS.get(item.delivery_status, 0):
        return False
    updated = OutboxItem.objects.filter(pk=item.pk, delivery_status=item.delivery_status).update(
        delivery_status=report.status,
        last_error=report.error[:2000] if report.status == "failed" else item.last_error,
    )
    if updated:
        _tell_switch(message_id=item.message_id, status=report.status, error=report.error)
    return bool(updated)


def _tell_switch(*, message_id: int, status: str, error: str = "", retry_at=None) -> None:
    from imsubsystem.services import message_delivery_update

    try:
        message_delivery_update(message_id=message_id, status=status, error=error[:2000], retry_at=retry_at)
    except Exception:
        # The send state is already recorded; a message deleted meanwhile must not undo it.
        logger.exception("gateway: could not report %s for message %s", status, message_id)


# --- outbound -------------------------------------------------------------------------------------


def outbox_enqueue(
    *,
    message_id: int,
    conversation_id: int,
    inbox_id: int,
    recipient: str,
    text: str = "",
    attachment_ids: list[int] | tuple[int, ...] = (),
    template: dict[str, Any] | None = None,
    on_commit_drain: Callable[[int], Any] | None = None,
) -> OutboxItem:
    """Queue one message for its platform; the same message again returns the first row."""
    existing = OutboxItem.objects.filter(message_id=message_id).first()
    if existing:
        return existing
    item = OutboxItem.objects.create(
        message_id=message_id,
        conversation_id=conversation_id,
        inbox_id=inbox_id,
        recipient=recipient[:191],
        text=text,
        attachments=[int(a) for a in attachment_ids],
        template=template,
        next_attempt_at=timezone.now(),
    )
    if on_commit_drain is not None:
        transaction.on_commit(lambda: on_commit_drain(conversation_id))
    return item


def recipient_for(*, inbox: InboxInfo, contact_id: int) -> str:
    """The contact's address on this inbox's platform: of their identities of that kind, the one that
    last wrote to this inbox (a merged contact may have several)."""
    from crm.models import ContactIdentity

    kind = inbox.kind
    addresses = list(
        ContactIdentity.objects.filter(contact_id=contact_id, kind=kind)
        .order_by("-last_seen_at", "-id")
        .values_list("external_id", flat=True)
    )
    if len(addresses) <= 1:
        return addresses[0] if addresses else ""
    latest = (
        InboundEvent.objects.filter(inbox_id=inbox.id, sender_id__in=addresses, event_kind=InboundEventKind.MESSAGE)
        .order_by("-sent_at")
        .values_list("sender_id", flat=True)
        .first()
    )
    return latest or addresses[0]


def outbox_enqueue_for_message(*, message_id: int, on_commit_drain: Callable[[int], Any]) -> OutboxItem | None:
    """Called inside the message's transaction (the switch's message_stored signal)."""
    from imsubsystem.models import Message

    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None:
        return None
    inbox = selectors.inbox_info_get(inbox_id=message.inbox_id)
    if inbox is None or adapter_for_inbox(inbox) is None:
        return None
    return outbox_enqueue(
        message_id=message.pk,
        conversation_id=message.conversation_id,
        inbox_id=inbox.id,
        recipient=recipient_for(inbox=inbox, contact_id=message.conversation.contact_id),
        text=message.text,
        attachment_ids=list(message.attachments or []),
        on_commit_drain=on_commit_drain,
    )


def _backoff(attempts: int) -> float:
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return delay * random.uniform(1.0, 1.2)  # jitter spreads retries of many rows failing together


# Platform answers are small JSON; the largest body read is an agent's image that WeChat needs uploaded.
HTTP_MAX_RESPONSE_BYTES = 25 * 1024 * 1024


def http_client() -> httpx.Client:
    """The client for every platform call: API base URLs and connector callbacks are set by admins, so
    they go through the outbound guard like any URL from outside (public addresses only unless listed
    in OUTBOUND_FETCH_ALLOW); no redirects; each call's body read within GATEWAY_HTTP_TIMEOUT_S."""
    timeout = float(settings.GATEWAY_HTTP_TIMEOUT_S)
    return outbound_client(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        max_bytes=HTTP_MAX_RESPONSE_BYTES,
        deadline_s=timeout,
        follow_redirects=False,
    )


def outbox_drain(*, conversation_id: int, client: httpx.Client | None = None) -> float | None:
    """Send a conversation's outbox rows in order until one must wait.

    Returns the seconds until the head row is due again (a retry is waiting), or None when nothing is
    left to do here: all sent or failed, or another worker holds the head row's lease."""
    own_client = client is None
    client = client or http_client()
    try:
        while True:
            now = timezone.now()
            head = (
                OutboxItem.objects.filter(
                    conversation_id=conversation_id, state__in=[OutboxState.PENDING, OutboxState.SENDING]
                )
                .order_by("id")
                .first()
            )
            if head is None:
                return None
            if head.state == OutboxState.SENDING and head.lease_until and head.lease_until > now:
                return None
            if head.state == OutboxState.PENDING and head.next_attempt_at > now:
                return max(0.0, (head.next_attempt_at - now).total_seconds())
            if not _claim(head, now):
                continue  # another worker moved it first: look again
            head.refresh_from_db()
            _send_one(head, client)
    finally:
        if own_client:
            client.close()


def _claim(item: OutboxItem, now) -> bool:
    """pending→sending (or take over an expired lease) in one conditional UPDATE: of two workers that
    read the same row, exactly one updates it."""
    lease_until = now + timedelta(seconds=settings.GATEWAY_SEND_LEASE_S)
    rows = OutboxItem.objects.filter(pk=item.pk, state=item.state, attempts=item.attempts)
    if item.state == OutboxState.SENDING:
        rows = rows.filter(lease_until=item.lease_until)
    return bool(rows.update(state=OutboxState.SENDING, lease_until=lease_until, attempts=F("attempts") + 1))


def _outbound_message(item: OutboxItem) -> OutboundMessage:
    attachments: tuple[dict[str, Any], ...] = ()
    if item.attachments:
        from media.models import Attachment
        from media.selectors import attachment_public_dict

        # A fresh link on every attempt, signed for the platform (an expiring capability it fetches
        # without our cookies), made absolute for platforms that fetch by URL.
        base = str(getattr(settings, "MEDIA_PUBLIC_BASE_URL", "") or "").rstrip("/")
        rows = {a.pk: a for a in Attachment.objects.filter(pk__in=item.attachments)}
        described = [
            attachment_public_dict(
                attachment=rows[pk],
                viewer=f"platform:{item.inbox_id}",
                may_view=lambda conversation_id: conversation_id == item.conversation_id,
            )
            for pk in item.attachments
            if pk in rows
        ]
        attachments = tuple(
            {
                "url": a["url"] if a["url"].startswith(("http://", "https://")) else base + a["url"],
                "content_type": a.get("content_type", ""),
                "name": a.get("name", ""),
            }
            for a in described
            if a.get("url")
        )
    from imsubsystem.models import Message

    buttons = Message.objects.filter(pk=item.message_id).values_list("buttons", flat=True).first() or []
    return OutboundMessage(
        message_id=item.message_id,
        conversation_id=item.conversation_id,
        recipient=item.recipient,
        text=item.text,
        attachments=attachments,
        template=item.template,
        buttons=tuple({"label": str(b.get("label", "")), "value": str(b.get("value", ""))} for b in buttons),
    )


def _check_window(inbox: InboxInfo, adapter: Adapter, item: OutboxItem) -> None:
    hours = adapter.reply_window_for(inbox)
    if hours is None or item.template:
        return
    last = selectors.customer_last_message_at(inbox_id=inbox.id, sender_id=item.recipient)
    if last is None or timezone.now() - last > timedelta(hours=hours):
        since = f"last wrote {last:%Y-%m-%d %H:%M} UTC" if last else "has not written to this inbox"
        raise SendError(
            f"Outside the platform's {hours}-hour reply window: the customer {since}. "
            + ("Send an approved template instead." if hours == 24 else "The customer must write first."),
            permanent=True,
        )


def _send_one(item: OutboxItem, client: httpx.Client) -> None:
    inbox = selectors.inbox_info_get(inbox_id=item.inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    try:
        if inbox is None or adapter is None:
            raise SendError("The inbox no longer exists or has no platform.", permanent=True)
        if not item.recipient:
            raise SendError(f"The contact has no {inbox.kind} address to send to.", permanent=True)
        _check_window(inbox, adapter, item)
        result = adapter.send(inbox, client, _outbound_message(item))
    except SendError as exc:
        _send_failed(item, exc)
        return
    except InboxMisconfigured as exc:
        _send_failed(item, SendError(str(exc), permanent=True))
        return
    except Exception as exc:
        # A fault of this row alone (text the adapter cannot encode, an adapter bug): retried with backoff
        # and failed after GATEWAY_MAX_ATTEMPTS like any send error, so it never holds the conversation's
        # later rows behind it for ever nor stops the drain of the others.
        logger.exception("gateway: sending outbox row %s failed", item.pk)
        _send_failed(item, SendError(f"{type(exc).__name__}: {exc}", permanent=False))
        return
    # Recorded the moment the platform answered: from here on, no worker sends this row again.
    updated = OutboxItem.objects.filter(pk=item.pk, state=OutboxState.SENDING).update(
        state=OutboxState.SENT,
        platform_message_id=result.platform_message_id[:191],
        sent_at=timezone.now(),
        lease_until=None,
        last_error="",
        delivery_status="sent",
    )
    if updated:
        _tell_switch(message_id=item.message_id, status="sent")


def _send_failed(item: OutboxItem, error: SendError) -> None:
    # The reason quotes the platform's answer: stored on the row and shown to the agent, so only as text
    # that can be stored.
    error = SendError(text_clean(error.reason), permanent=error.permanent, retry_after=error.retry_after)
    now = timezone.now()
    give_up = error.permanent or item.attempts >= settings.GATEWAY_MAX_ATTEMPTS
    if give_up:
        updated = OutboxItem.objects.filter(pk=item.pk, state=OutboxState.SENDING).update(
            state=OutboxState.FAILED, lease_until=None, last_error=error.reason[:2000], delivery_status="failed"
        )
        if updated:
            _tell_switch(message_id=item.message_id, status="failed", error=error.reason)
        return
    delay = max(error.retry_after or 0.0, _backoff(item.attempts))
    retry_at = now + timedelta(seconds=delay)
    updated = OutboxItem.objects.filter(pk=item.pk, state=OutboxState.SENDING).update(
        state=OutboxState.PENDING,
        lease_until=None,
        next_attempt_at=retry_at,
        last_error=error.reason[:2000],
    )
    if updated:
        # The agent sees the reason and when the next attempt is due, not a silent "pending".
        _tell_switch(message_id=item.message_id, status="retrying", error=error.reason, retry_at=retry_at)


def outbox_retry(*, item_id: int) -> bool:
    """Send a failed row again (an admin's choice after fixing the cause); returns whether it was failed."""
    return bool(
        OutboxItem.objects.filter(pk=item_id, state=OutboxState.FAILED).update(
            state=OutboxState.PENDING, attempts=0, next_attempt_at=timezone.now(), delivery_status=""
        )
    )


def outbox_retry_now(*, message_id: int) -> OutboxItem | None:
    """The agent's "Retry now" on a message that failed or is waiting for its next attempt: due at once
    (a failed row starts its attempts again). Returns the row, or None when there is nothing to retry (no
    platform send, or already sent or being sent)."""
    item = OutboxItem.objects.filter(message_id=message_id).first()
    if item is None:
        return None
    now = timezone.now()
    if item.state == OutboxState.FAILED:
        changed = OutboxItem.objects.filter(pk=item.pk, state=OutboxState.FAILED).update(
            state=OutboxState.PENDING, attempts=0, next_attempt_at=now, delivery_status=""
        )
    elif item.state == OutboxState.PENDING:
        changed = OutboxItem.objects.filter(pk=item.pk, state=OutboxState.PENDING).update(next_attempt_at=now)
    else:
        return None
    if not changed:
        return None
    item.refresh_from_db()
    # Rows of a conversation go out in order: an earlier row still waiting is sent first.
    OutboxItem.objects.filter(
        conversation_id=item.conversation_id, state=OutboxState.PENDING, id__lt=item.pk, next_attempt_at__gt=now
    ).update(next_attempt_at=now)
    _tell_switch(message_id=message_id, status="pending")
    return item


# --- inbox administration --------------------------------------------------------------------------


def inbox_connection_check(*, inbox_id: int) -> str:
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if inbox is None or adapter is None:
        raise ValidationError("This inbox has no platform behind it.")
    with http_client() as client:
        try:
            return adapter.check_connection(inbox, client)
        except (SendError, InboxMisconfigured) as exc:
            raise ValidationError(str(exc)) from exc


def telegram_webhook_set(*, inbox_id: int, url: str) -> str:
    from gateway.telegram import TelegramAdapter

    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if not isinstance(adapter, TelegramAdapter):
        raise ValidationError("Only Telegram inboxes have a webhook to set.")
    if not url.startswith("https://"):
        raise ValidationError(f"Telegram only calls HTTPS URLs; this site is served at {url}.")
    with http_client() as client:
        try:
            return adapter.set_webhook(inbox, client, url=url)
        except (SendError, InboxMisconfigured) as exc:
            raise ValidationError(str(exc)) from exc


# --- approved templates ----------------------------------------------------------------------------

TEMPLATE_INBOX_KINDS = frozenset({"whatsapp"})
TEMPLATE_PARAM_MAX = 1024
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


def inbox_templates(*, inbox_id: int) -> list[dict[str, Any]]:
    """The approved templates an admin listed in the inbox's config (`config["templates"]`), cleaned:
    entries without a name or language, or with a malformed param count, are left out. Empty for inboxes
    whose platform has no templates."""
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    if inbox is None or inbox.kind not in TEMPLATE_INBOX_KINDS:
        return []
    listed = inbox.config.get("templates")
    templates = []
    for entry in listed if isinstance(listed, list) else []:
        if not isinstance(entry, dict):
            continue
        name, language, params = entry.get("name"), entry.get("language"), entry.get("params", 0)
        if not (isinstance(name, str) and name and isinstance(language, str) and language):
            continue
        if not isinstance(params, int) or isinstance(params, bool) or params < 0:
            continue
        text = entry.get("text")
        templates.append(
            {"name": name, "language": language, "params": params, "text": text if isinstance(text, str) else ""}
        )
    return templates


def template_preview(*, text: str, params: list[str] | tuple[str, ...]) -> str:
    """The template's text with {{n}} replaced by the n-th param, in one pass (a param that itself holds
    "{{2}}" stays as written). Placeholders without a param are left as they are."""

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return params[index - 1] if 1 <= index <= len(params) else match.group(0)

    return PLACEHOLDER.sub(fill, text)


def _template_params(params: Any, expected: int) -> list[str]:
    from imsubsystem.services import SwitchError

    if not isinstance(params, list | tuple) or not all(isinstance(p, str) for p in params):
        raise SwitchError("invalid", "The template's parameters must be a list of strings.")
    if len(params) != expected:
        raise SwitchError("invalid", f"This template takes {expected} parameter(s); {len(params)} given.")
    cleaned = [p.strip() for p in params]
    for number, value in enumerate(cleaned, start=1):
        if not value:
            raise SwitchError("invalid", f"Parameter {number} is empty.")
        if len(value) > TEMPLATE_PARAM_MAX:
            raise SwitchError("too_long", f"Parameter {number} is longer than {TEMPLATE_PARAM_MAX} characters.")
        # WhatsApp refuses template parameters with line breaks, tabs or more than four spaces in a row.
        if "\n" in value or "\r" in value or "\t" in value or "     " in value:
            raise SwitchError("invalid", f"Parameter {number} may not hold line breaks, tabs or long runs of spaces.")
    return cleaned


def template_send(
    *,
    conversation_id: int,
    agent_id: int,
    name: str,
    language: str,
    params: list[str] | tuple[str, ...],
    client_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Send one of the inbox's approved templates as the agent's message: the conversation shows the
    filled-in preview, and the outbox row carries the template so the platform gets the template request
    (allowed outside WhatsApp's 24-hour window). Only a user who may see the conversation may send one
    (imsubsystem.selectors.conversation_visible_to).

    Message and outbox row are written in one transaction; any refusal raises SwitchError and stores
    nothing. Returns (message payload, created) like message_send, idempotent on client_id."""
    from django.contrib.auth import get_user_model

    from imsubsystem import selectors as switch_selectors
    from imsubsystem.models import Conversation
    from imsubsystem.services import SwitchError, message_send

    conversation = Conversation.objects.select_related("inbox").filter(pk=conversation_id).first()
    agent = get_user_model().objects.filter(pk=agent_id, is_active=True).first()
    if conversation is None or agent is None:
        raise SwitchError("not_found", "No such conversation, or it is not yours.")
    if not switch_selectors.conversation_visible_to(user=agent, conversation=conversation):
        raise SwitchError("not_found", "No such conversation, or it is not yours.")
    if conversation.inbox.kind not in TEMPLATE_INBOX_KINDS:
        raise SwitchError("invalid", "Templates are only sent on WhatsApp conversations.")
    template = next(
        (t for t in inbox_templates(inbox_id=conversation.inbox_id) if t["name"] == name and t["language"] == language),
        None,
    )
    if template is None:
        raise SwitchError("invalid", f"This inbox has no approved template {name!r} in {language!r}.")
    values = _template_params(params, template["params"])
    text = template_preview(text=template["text"], params=values) or f"[Template {name} ({language})]"
    platform_template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if values:
        platform_template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}
        ]

    with transaction.atomic():
        payload, created = message_send(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user_id=agent.pk,
            text=text,
            client_id=client_id,
        )
        if not created:
            return payload, False
        # The message_stored receiver wrote this row a moment ago, in this same transaction; the drain
        # it queued runs after commit, so it only ever sees the row with its template.
        updated = OutboxItem.objects.filter(message_id=payload["id"], state=OutboxState.PENDING).update(
            template=platform_template
        )
        if not updated:
            raise SwitchError("invalid", "This conversation's inbox has no platform to send the template to.")
    return payload, True
