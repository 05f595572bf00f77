"""Reads for the gateway: inboxes as plain values, what is due in the outbox, the reply windows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone

from gateway.base import InboxInfo
from gateway.models import InboundEvent, InboundEventKind, OutboxItem, OutboxState
from imsubsystem.models import Inbox


def _info(inbox: Inbox) -> InboxInfo:
    return InboxInfo(
        id=inbox.pk,
        kind=inbox.kind,
        key=inbox.key,
        config=dict(inbox.config or {}),
        credentials=dict(inbox.credentials or {}),
    )


def inbox_info_get(*, inbox_id: int) -> InboxInfo | None:
    inbox = Inbox.objects.filter(pk=inbox_id).first()
    return _info(inbox) if inbox else None


def inbox_info_by_key(*, key: str) -> InboxInfo | None:
    inbox = Inbox.objects.filter(key=key, is_active=True).first()
    return _info(inbox) if inbox else None


def customer_last_message_at(*, inbox_id: int, sender_id: str) -> datetime | None:
    """When the customer last wrote to this inbox, by the platform's clock: opens the reply window."""
    return InboundEvent.objects.filter(
        inbox_id=inbox_id, sender_id=sender_id, event_kind=InboundEventKind.MESSAGE
    ).aggregate(last=Max("sent_at"))["last"]


def outbox_conversations_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Conversations with a send that is due, or whose sender's lease ran out (a worker died)."""
    now = now or timezone.now()
    due = Q(state=OutboxState.PENDING, next_attempt_at__lte=now) | Q(state=OutboxState.SENDING, lease_until__lt=now)
    return list(OutboxItem.objects.filter(due).order_by().values_list("conversation_id", flat=True).distinct()[:limit])


def inbound_events_stalled(
    *, now: datetime | None = None, older_than_s: int = 120, max_attempts: int = 10
) -> list[int]:
    """Stored events still unprocessed a while after they came (their task was lost or keeps failing)."""
    now = now or timezone.now()
    return list(
        InboundEvent.objects.filter(
            processed_at__isnull=True, received_at__lt=now - timedelta(seconds=older_than_s), attempts__lt=max_attempts
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
