"""Reads of the webhooks app: the active subscriptions as the event path sees them (cached briefly in
each process, so an event with nobody subscribed costs no query), and the subscriptions and deliveries
as the admin and the API show them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from imsubsystem.models import Inbox
from webhooks.models import WebhookDelivery, WebhookSubscription


@dataclass(frozen=True)
class ActiveSubscription:
    """What deciding "who hears of this event" needs. `queue_ids` and `inbox_ids` are None for a
    subscription without a team; with one, a conversation is in scope when its queue is one of the team's,
    or it has no queue and its inbox's default queue is one of them (`inbox_ids`)."""

    id: int
    event_types: frozenset[str]
    queue_ids: frozenset[int] | None = None
    inbox_ids: frozenset[int] | None = None

    def covers(self, *, queue_id: int | None, inbox_id: int | None) -> bool:
        if self.queue_ids is None:
            return True
        if queue_id is not None:
            return queue_id in self.queue_ids
        return inbox_id is not None and inbox_id in (self.inbox_ids or frozenset())


_lock = threading.Lock()
_cache: tuple[float, tuple[ActiveSubscription, ...]] | None = None


def _load() -> tuple[ActiveSubscription, ...]:
    rows = list(WebhookSubscription.objects.filter(active=True).prefetch_related("team__queues"))
    active = []
    for row in rows:
        types = frozenset(str(t) for t in (row.event_types or []))
        if not types:
            continue
        if row.team_id is None:
            active.append(ActiveSubscription(id=row.pk, event_types=types))
            continue
        queue_ids = frozenset(q.pk for q in row.team.queues.all())
        inbox_ids = frozenset(Inbox.objects.filter(default_queue_id__in=queue_ids).values_list("pk", flat=True))
        active.append(ActiveSubscription(id=row.pk, event_types=types, queue_ids=queue_ids, inbox_ids=inbox_ids))
    return tuple(active)


def subscriptions_active() -> tuple[ActiveSubscription, ...]:
    """The active subscriptions, read at most every WEBHOOK_SUBSCRIPTION_CACHE_S seconds per process."""
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and cached[0] > now:
        return cached[1]
    loaded = _load()
    with _lock:
        _cache = (now + float(settings.WEBHOOK_SUBSCRIPTION_CACHE_S), loaded)
    return loaded


def subscriptions_cache_clear() -> None:
    """Forget the cached subscriptions (after a change in this process; other processes see it within
    WEBHOOK_SUBSCRIPTION_CACHE_S)."""
    global _cache
    with _lock:
        _cache = None


def subscriptions_wanting(event_type: str) -> tuple[ActiveSubscription, ...]:
    return tuple(s for s in subscriptions_active() if event_type in s.event_types)


# --- the admin's and the API's reads ----------------------------------------------------------------


def subscription_get(*, subscription_id: int) -> WebhookSubscription | None:
    return WebhookSubscription.objects.select_related("team", "created_by").filter(pk=subscription_id).first()


def subscriptions_list() -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.select_related("team").order_by("name", "id")


def subscription_dict(subscription: WebhookSubscription, *, with_secret: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": subscription.pk,
        "name": subscription.name,
        "target_url": subscription.target_url,
        "event_types": list(subscription.event_types or []),
        "team_id": subscription.team_id,
        "active": subscription.active,
        "created_by_id": subscription.created_by_id,
        "created_at": subscription.created_at.isoformat(),
    }
    if with_secret:
        data["secret"] = subscription.secret
    return data


def delivery_dict(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "subscription_id": delivery.subscription_id,
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "conversation_id": delivery.conversation_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": delivery.created_at.isoformat(),
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.status == "pending" else None,
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
    }
