"""MySQL's rows and times in the backend's terms: what the backend is told about a queue and an agent,
and its clock (integer milliseconds since the epoch, base.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from routing.models import AgentProfile, Queue


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def queue_settings(queue: Queue) -> dict[str, Any]:
    """The keyword arguments of the backend's `queue_set` for a queue row."""
    return {
        "queue_id": queue.pk,
        "policy": queue.policy,
        "offer_timeout_ms": queue.offer_timeout_s * 1000,
        "sticky_window_ms": queue.sticky_window_s * 1000,
        "max_wait_ms": (queue.max_wait_s or 0) * 1000,
        "overflow_queue_id": queue.overflow_queue_id or 0,
    }


def agent_settings(profile: AgentProfile) -> dict[str, Any]:
    """The keyword arguments of the backend's `agent_set` (but `now_ms`) for an agent profile."""
    return {
        "agent_id": profile.user_id,
        "status": profile.routing_status,
        "capacity": {str(k): int(v) for k, v in (profile.capacity or {}).items()},
        "default_capacity": profile.default_capacity,
        "skills": sorted(profile.skill_levels.values_list("skill__name", flat=True)),
        "queue_ids": sorted(profile.queues.values_list("pk", flat=True)),
        "away_after": profile.auto_away_after_missed,
    }
