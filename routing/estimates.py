"""Where a waiting conversation stands: its place in the queue (from the backend) and an estimate of the
wait (from the queue's recent handling times in MySQL and its agents' free or busy slots)."""

from __future__ import annotations

import math
import time

from routing.backends import get_backend
from routing.models import AgentProfile, AgentStatus, WorkItem, WorkStatus

DEFAULT_HANDLE_S = 180
_eta_cache: dict[int, tuple[float, float, int]] = {}
_ETA_CACHE_S = 5.0


def _queue_throughput(queue_id: int) -> tuple[float, int]:
    """(average handling seconds of the queue's recent conversations, free-or-busy slots of its agents)."""
    cached = _eta_cache.get(queue_id)
    if cached and time.monotonic() - cached[0] < _ETA_CACHE_S:
        return cached[1], cached[2]
    recent = list(
        WorkItem.objects.filter(queue_id=queue_id, status=WorkStatus.COMPLETED, assigned_at__isnull=False)
        .order_by("-closed_at")
        .values_list("assigned_at", "closed_at")[:50]
    )
    durations = [(closed - assigned).total_seconds() for assigned, closed in recent if closed and assigned]
    handle_s = sum(durations) / len(durations) if durations else DEFAULT_HANDLE_S
    slots = sum(
        AgentProfile.objects.filter(queues=queue_id, status=AgentStatus.AVAILABLE, connected=True).values_list(
            "default_capacity", flat=True
        )
    )
    _eta_cache[queue_id] = (time.monotonic(), handle_s, slots)
    return handle_s, slots


def queue_positions(*, queue_id: int) -> dict[int, tuple[int, int]]:
    """{ref: (1-based position, estimated seconds)} for every conversation waiting in a queue, from one
    backend read (what `queue_position` gives for each of them)."""
    positions = get_backend().queue_positions(queue_id=queue_id)
    if not positions:
        return {}
    handle_s, slots = _queue_throughput(queue_id)
    return {ref: (position, math.ceil(position * handle_s / max(slots, 1))) for ref, position in positions.items()}


def queue_position(*, ref: int) -> tuple[int, int] | None:
    """(1-based position, estimated seconds until an agent takes it) for a waiting conversation."""
    backend = get_backend()
    position = backend.work_position(ref=ref)
    if position is None:
        return None
    item = backend.work_get(ref=ref)
    handle_s, slots = _queue_throughput(item["queue"])
    # Each of the queue's agent slots frees about once per handling time.
    eta_s = math.ceil(position * handle_s / max(slots, 1))
    return position, eta_s
