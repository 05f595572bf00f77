"""The webhooks' outbox: one WebhookDelivery row per event and subscription, written in the transaction
of the change it tells of (the receivers), and the drain that POSTs them.

Order: rows of one subscription and ordering key (a conversation, or a contact) go out in id order, one
at a time, each claimed with a conditional UPDATE and a lease, as the gateway's outbox sends a
conversation's messages (gateway/outbox.py): a row is not attempted while an earlier one is pending.
A failed attempt is retried with exponential backoff and jitter until `retry_until` (WEBHOOK_RETRY_WINDOW_S
after the event), then the row is failed and the next one goes. Every attempt is logged (WebhookAttempt).
Targets are reached through the one outbound guard (core/outbound.py): a private address is refused and
the row failed at once. docs/webhooks.md."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.outbound import OutboundRefused, outbound_client
from core.text import text_clean
from webhooks.events import Event
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription
from webhooks.selectors import ActiveSubscription, subscriptions_wanting
from webhooks.signing import SIGNATURE_HEADER, signature_make

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 1000
Pair = tuple[int, str]  # (subscription id, ordering key): the unit of ordering


# --- enqueue ----------------------------------------------------------------------------------------


def recipients(
    event_type: str, *, scoped: bool, queue_id: int | None, inbox_id: int | None
) -> list[ActiveSubscription]:
    wanting = subscriptions_wanting(event_type)
    if not scoped:
        return [s for s in wanting if s.queue_ids is None]
    return [s for s in wanting if s.covers(queue_id=queue_id, inbox_id=inbox_id)]


def deliveries_enqueue(events: Iterable[Event], *, on_commit_drain: Callable[[list[Pair]], Any]) -> int:
    """Write one row per event and subscription that wants it, in ONE insert, inside the caller's
    transaction; after it commits, `on_commit_drain` gets the (subscription, key) pairs to send.
    Returns the number of rows."""
    now = timezone.now()
    retry_until = now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S)
    rows = []
    for event in events:
        for subscription in recipients(
            event.type, scoped=event.scoped, queue_id=event.queue_id, inbox_id=event.inbox_id
        ):
            rows.append(
                WebhookDelivery(
                    subscription_id=subscription.id,
                    event_id=event.id,
                    event_type=event.type,
                    payload=event.envelope(),
                    ordering_key=event.ordering_key,
                    conversation_id=event.conversation_id,
                    created_at=now,
                    next_attempt_at=now,
                    retry_until=retry_until,
                )
            )
    if not rows:
        return 0
    WebhookDelivery.objects.bulk_create(rows)
    pairs = sorted({(row.subscription_id, row.ordering_key) for row in rows})
    transaction.on_commit(lambda: on_commit_drain([list(p) for p in pairs]), robust=True)
    return len(rows)


# --- drain ------------------------------------------------------------------------------------------


def http_client() -> httpx.Client:
    return outbound_client(
        timeout=httpx.Timeout(settings.WEBHOOK_TIMEOUT_S),
        max_bytes=settings.WEBHOOK_RESPONSE_MAX_BYTES,
        deadline_s=settings.WEBHOOK_TIMEOUT_S * 2,
        follow_redirects=False,
    )


def deliveries_drain(*, subscription_id: int, ordering_key: str, client: httpx.Client | None = None) -> float | None:
    """Send one subscription's rows of one ordering key in order until one must wait.

    Returns the seconds until the head row is due again (a retry is waiting), or None when nothing is
    left to do here: all delivered or failed, or another worker holds the head row's lease."""
    own_client = client is None
    client = client or http_client()
    try:
        while True:
            now = timezone.now()
            head = (
                WebhookDelivery.objects.filter(
                    subscription_id=subscription_id, ordering_key=ordering_key, status=DeliveryStatus.PENDING
                )
                .order_by("id")
                .first()
            )
            if head is None:
                return None
            if head.lease_until and head.lease_until > now:
                return None
            if head.next_attempt_at > now:
                return max(0.0, (head.next_attempt_at - now).total_seconds())
            if not _claim(head, now):
                continue  # another worker took it first: look again
            head.refresh_from_db()
            _send_one(head, client)
    finally:
        if own_client:
            client.close()


def _claim(delivery: WebhookDelivery, now: datetime) -> bool:
    """Take the row for one attempt in one conditional UPDATE: of two workers, exactly one updates it."""
    lease_until = now + timedelta(seconds=settings.WEBHOOK_SEND_LEASE_S)
    rows = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts, lease_until=delivery.lease_until
    )
    return bool(rows.update(lease_until=lease_until, attempts=F("attempts") + 1))


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _send_one(delivery: WebhookDelivery, client: httpx.Client) -> None:
    subscription = WebhookSubscription.objects.filter(pk=delivery.subscription_id).first()
    if subscription is None or not subscription.active:
        _finish(
            delivery, status_code=None, error="The subscription is inactive.", snippet="", duration_ms=0, give_up=True
        )
        return
    body = body_of(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Switchboard-Webhooks/1",
        "X-Switchboard-Event": delivery.event_type,
        "X-Switchboard-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: signature_make(secret=subscription.secret, body=body),
    }
    started = time.monotonic()
    status_code: int | None = None
    snippet = ""
    error = ""
    permanent = False
    try:
        with client.stream("POST", subscription.target_url, content=body, headers=headers) as response:
            status_code = response.status_code
            chunks = bytearray()
            for chunk in response.iter_bytes():
                chunks.extend(chunk)
                if len(chunks) >= SNIPPET_CHARS * 4:
                    break
            snippet = chunks.decode("utf-8", errors="replace")[:SNIPPET_CHARS]
        if not 200 <= status_code < 300:
            error = f"The receiver answered HTTP {status_code}."
    except OutboundRefused as exc:
        error, permanent = str(exc), True
    except httpx.TimeoutException:
        error = f"No answer within {settings.WEBHOOK_TIMEOUT_S:g} s."
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a fault of this row alone: retried like a failure, never holds the drain
        logger.exception("webhooks: delivery %s failed", delivery.pk)
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)
    _finish(
        delivery,
        status_code=status_code,
        error=error,
        snippet=snippet,
        duration_ms=duration_ms,
        give_up=permanent,
    )


def _finish(
    delivery: WebhookDelivery, *, status_code: int | None, error: str, snippet: str, duration_ms: int, give_up: bool
) -> None:
    """Log the attempt and move the row on: delivered, retried later, or failed."""
    now = timezone.now()
    error = text_clean(error)[:2000]
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            started_at=now - timedelta(milliseconds=duration_ms),
            status_code=status_code,
            duration_ms=duration_ms,
            error=error,
            response_snippet=text_clean(snippet)[:SNIPPET_CHARS],
        )
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
        )
        if not error:
            claimed.update(
                status=DeliveryStatus.DELIVERED,
                delivered_at=now,
                lease_until=None,
                last_status_code=status_code,
                last_error="",
            )
            return
        if give_up or now >= delivery.retry_until:
            claimed.update(
                status=DeliveryStatus.FAILED, lease_until=None, last_status_code=status_code, last_error=error
            )
            return
        retry_at = min(now + timedelta(seconds=backoff_s(delivery.attempts)), delivery.retry_until)
        claimed.update(next_attempt_at=retry_at, lease_until=None, last_status_code=status_code, last_error=error)


def backoff_s(attempts: int) -> float:
    """Exponential from WEBHOOK_RETRY_BASE_S, capped at WEBHOOK_RETRY_MAX_S, with jitter (x1.0-1.25) so
    rows failing together do not come back together."""
    delay = min(float(settings.WEBHOOK_RETRY_MAX_S), float(settings.WEBHOOK_RETRY_BASE_S) * 2 ** max(0, attempts - 1))
    return delay * random.uniform(1.0, 1.25)


# --- sweep and replay ---------------------------------------------------------------------------------


def pairs_due(*, limit: int = 500) -> list[Pair]:
    """(subscription, key) pairs whose head may be due: a pending row due now and not leased."""
    now = timezone.now()
    rows = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .values_list("subscription_id", "ordering_key")
        .distinct()[:limit]
    )
    return [(int(s), str(k)) for s, k in rows]


def deliveries_requeue(delivery_ids: Sequence[int], *, on_commit_drain: Callable[[list[Pair]], Any]) -> int:
    """Send these rows again from now (an admin's or an integrator's replay): pending, due at once, a new
    retry window, attempts counted from zero (the attempt log keeps the earlier ones). The event keeps its
    id, so a receiver that dedupes on it sees a repeat. Returns how many rows were queued."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update()
            .filter(pk__in=list(delivery_ids))
            .exclude(status=DeliveryStatus.PENDING, lease_until__gt=now)
        )
        if not rows:
            return 0
        WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            retry_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S),
            lease_until=None,
            delivered_at=None,
        )
        pairs = sorted({(r.subscription_id, r.ordering_key) for r in rows})
        transaction.on_commit(lambda: on_commit_drain([list(p) for p in pairs]), robust=True)
    return len(rows)
