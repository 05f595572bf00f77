"""The routing tick: every timer that is due fires once, even when several processes tick (beat's
`routing.tick` every second, or the embedded default's timer loop)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from routing.backends import get_backend
from routing.backends.base import Event
from routing.ledger import persist
from routing.models import Queue, WorkItem
from routing.presence import agent_consoles_sweep
from routing.rebuild import on_backend, routing_ensure_built
from routing.sync import queue_sync
from routing.terms import from_ms, to_ms


def routing_tick(*, now: datetime | None = None, limit: int = 500) -> int:
    """Fire every due timer: expire offers past their deadline (re-offering their work), overflow items
    that waited too long, and re-evaluate items whose stickiness or decline hold ended; count
    disconnected the agents whose last console went away a grace ago. Returns the number of timers
    handled. First rebuilds the backend from MySQL if it lost its state."""
    routing_ensure_built()
    now_ms = to_ms(now or timezone.now())
    swept = agent_consoles_sweep(now=from_ms(now_ms))
    offer_ids, refs = get_backend().due(now_ms=now_ms, limit=limit)
    for offer_id in offer_ids:
        persist(on_backend(lambda backend, offer_id=offer_id: backend.offer_expire(offer_id=offer_id, now_ms=now_ms)))
    for ref in refs:
        persist(
            _with_overflow_queue(
                ref, lambda ref=ref: on_backend(lambda backend: backend.work_reevaluate(ref=ref, now_ms=now_ms))
            )
        )
    return len(swept) + len(offer_ids) + len(refs)


def _with_overflow_queue(ref: int, call: Callable[[], list[Event]]) -> list[Event]:
    """Run `call` once the backend knows the queue the item would overflow to."""
    item = WorkItem.objects.filter(ref=ref).select_related("queue").first()
    if item and item.queue.overflow_queue_id:
        overflow = Queue.objects.filter(pk=item.queue.overflow_queue_id, is_active=True).first()
        if overflow:
            queue_sync(queue=overflow)
    return call()
