"""The outbox: one row per message going out to a platform, and the drain that sends them.

The switch's `message_stored` signal lands in `outbox_enqueue_for_message` inside the message's
transaction (gateway/receivers.py); `outbox_drain` sends a conversation's rows in order, one at a time,
each claimed with a conditional UPDATE and a lease; a failed send is retried with backoff, then given
up. Every outcome is told to the switch through delivery.py. docs/gateway.md, "Outbound path and its
guarantees".
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.text import text_clean
from crm.models import ContactIdentity
from gateway import selectors
from gateway.base import Adapter, InboxInfo, InboxMisconfigured, OutboundMessage, SendError
from gateway.delivery import delivery_status_tell
from gateway.models import InboundEvent, InboundEventKind, OutboxItem, OutboxState
from gateway.platform_http import http_client
from gateway.registry import adapter_for_inbox
from gateway.templates import TEMPLATE_INBOX_KINDS, template_prepare
from imsubsystem import selectors as switch_selectors
from imsubsystem.models import Message
from imsubsystem.services import SwitchError
from media.models import Attachment
from media.selectors import attachment_public_dict

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 900.0


# --- enqueue ----------------------------------------------------------------------------------------


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


def outbound_plan(*, inbox_id: int, contact_id: int, template: dict[str, Any] | None) -> dict[str, Any] | None:
    """The switch's `outbound_prepare` question (a conversation started with a contact): the contact's
    address on the inbox's platform ("" when none), whether free text may go now (the reply window),
    and for a template its preview text and the platform's request (imsubsystem/services/outbound.py).
    None for an inbox with no platform. A template the inbox does not have raises SwitchError."""
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if inbox is None or adapter is None:
        return None
    recipient = recipient_for(inbox=inbox, contact_id=contact_id)
    answer: dict[str, Any] = {"recipient": recipient, "window_open": False, "text": "", "template": None}
    if template is not None:
        if inbox.kind not in TEMPLATE_INBOX_KINDS:
            raise SwitchError("invalid", "Templates are only sent on WhatsApp inboxes.")
        answer["text"], answer["template"] = template_prepare(
            inbox_id=inbox.id, name=template["name"], language=template["language"], params=template["params"]
        )
    if recipient:
        answer["window_open"] = reply_window_open(inbox, adapter, recipient)[0]
    return answer


# --- drain ------------------------------------------------------------------------------------------


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


def _claim(item: OutboxItem, now: datetime) -> bool:
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
    buttons = Message.objects.filter(pk=item.message_id).values_list("buttons", flat=True).first() or []
    language = switch_selectors.conversation_language(conversation_id=item.conversation_id)[0] if buttons else ""
    return OutboundMessage(
        message_id=item.message_id,
        conversation_id=item.conversation_id,
        recipient=item.recipient,
        text=item.text,
        attachments=attachments,
        template=item.template,
        buttons=tuple({"label": str(b.get("label", "")), "value": str(b.get("value", ""))} for b in buttons),
        language=language,
    )


def reply_window_open(inbox: InboxInfo, adapter: Adapter, recipient: str) -> tuple[bool, datetime | None]:
    """(may free text go to this recipient now, when they last wrote to the inbox). Platforms without a
    reply window are always open."""
    hours = adapter.reply_window_for(inbox)
    if hours is None:
        return True, None
    last = selectors.customer_last_message_at(inbox_id=inbox.id, sender_id=recipient)
    return last is not None and timezone.now() - last <= timedelta(hours=hours), last


def _check_window(inbox: InboxInfo, adapter: Adapter, item: OutboxItem) -> None:
    hours = adapter.reply_window_for(inbox)
    if hours is None or item.template:
        return
    is_open, last = reply_window_open(inbox, adapter, item.recipient)
    if not is_open:
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
        delivery_status_tell(message_id=item.message_id, status="sent")


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
            delivery_status_tell(message_id=item.message_id, status="failed", error=error.reason)
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
        delivery_status_tell(message_id=item.message_id, status="retrying", error=error.reason, retry_at=retry_at)


def _backoff(attempts: int) -> float:
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return delay * random.uniform(1.0, 1.2)  # jitter spreads retries of many rows failing together


# --- retries ----------------------------------------------------------------------------------------


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
    delivery_status_tell(message_id=message_id, status="pending")
    return item
