"""Reads of the queuing machine, for the switch, the agent console and the supervisor dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone

from routing.backends import channel_kinds, get_backend
from routing.models import (
    DISCONNECTED,
    AgentProfile,
    AgentStatus,
    AssignmentEvent,
    Offer,
    OfferStatus,
    Queue,
    WorkItem,
    WorkStatus,
)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def queue_waiting(*, queue_id: int) -> list[dict[str, Any]]:
    """The queue in routing order: [{ref, priority, enqueued_at, position}] (for manual pick)."""
    rows = get_backend().queue_waiting(queue_id=queue_id)
    return [
        {"ref": row["ref"], "priority": row["priority"], "enqueued_at": _dt(row["enqueued_ms"]), "position": n}
        for n, row in enumerate(rows, start=1)
    ]


def agent_presence_shown(*, status: str, connected: bool) -> str:
    """What an agent is shown as: the status they chose, or `disconnected` when they chose to work
    (available or away) but have had no console for longer than the grace (routing offers them nothing)."""
    if not connected and status != AgentStatus.OFFLINE:
        return DISCONNECTED
    return status


def agent_load(*, agent_id: int) -> dict[str, Any]:
    """{status, load (conversations held or offered), load_by_kind, capacity (per channel kind)}."""
    profile = AgentProfile.objects.filter(user_id=agent_id).first()
    state = get_backend().agent_get(agent_id=agent_id)
    default = profile.default_capacity if profile else 0
    caps = (profile.capacity or {}) if profile else {}
    return {
        "status": (state or {}).get("status") or (profile.status if profile else AgentStatus.OFFLINE),
        "load": (state or {}).get("total", 0),
        "load_by_kind": (state or {}).get("load", {}),
        "capacity": {kind: int(caps.get(kind, default)) for kind in channel_kinds()},
    }


def queues_for_agent(*, agent_id: int) -> list[dict[str, Any]]:
    return [
        {"id": q.pk, "name": q.name, "policy": q.policy}
        for q in Queue.objects.filter(agents__user_id=agent_id, is_active=True).order_by("name")
    ]


def offers_open_for_agent(*, agent_id: int) -> list[dict[str, Any]]:
    """Open offers of an agent, for a console that reconnects: [{offer_id, ref, queue_id, expires_at}]."""
    return [
        {"offer_id": o.pk, "ref": o.ref, "queue_id": o.queue_id, "expires_at": o.expires_at}
        for o in Offer.objects.filter(agent_id=agent_id, status=OfferStatus.OPEN, expires_at__gt=timezone.now())
    ]


def queue_stats() -> list[dict[str, Any]]:
    """Per active queue: work items waiting, offered and active (assigned), and agents by status.

    No wait figure: how long a customer has waited (across offers, overflow and transfers) is the
    switch's to say (imsubsystem.selectors.customer_wait_s); a work item's `queued_at` is only the
    overflow clock of its current queue."""
    counts: dict[int, dict[str, int]] = {}
    for row in (
        WorkItem.objects.filter(status__in=(WorkStatus.WAITING, WorkStatus.OFFERED, WorkStatus.ASSIGNED))
        .values("queue_id", "status")
        .annotate(n=Count("pk"))
    ):
        counts.setdefault(row["queue_id"], {})[row["status"]] = row["n"]
    agents: dict[int, dict[str, int]] = {}
    for row in AgentProfile.objects.values("queues", "status", "connected").annotate(n=Count("pk")):
        if row["queues"]:
            shown = agent_presence_shown(status=row["status"], connected=row["connected"])
            by_status = agents.setdefault(row["queues"], {})
            by_status[shown] = by_status.get(shown, 0) + row["n"]
    stats = []
    for queue in Queue.objects.filter(is_active=True):
        c = counts.get(queue.pk, {})
        stats.append(
            {
                "queue_id": queue.pk,
                "name": queue.name,
                "waiting": c.get(WorkStatus.WAITING, 0),
                "offered": c.get(WorkStatus.OFFERED, 0),
                "active": c.get(WorkStatus.ASSIGNED, 0),
                "agents": {
                    status: agents.get(queue.pk, {}).get(status, 0) for status in (*AgentStatus.values, DISCONNECTED)
                },
            }
        )
    return stats


LEDGER_KINDS_SHOWN = ("queued", "assigned", "overflowed")


def work_ledger(*, ref: int, limit: int = 500) -> list[dict[str, Any]]:
    """What the queuing machine decided about one work item (a conversation), oldest first, for its
    transcript: [{kind: queued | assigned | overflowed, at, queue_id, agent_id}]. Offers and their answers
    are left out (a transcript says who took the conversation, not who was asked); a `queued` that repeats
    the previous one (the item back in the same queue after a declined offer) is dropped."""
    rows = (
        AssignmentEvent.objects.filter(ref=ref, kind__in=LEDGER_KINDS_SHOWN)
        .order_by("seq", "id")
        .values("kind", "at", "queue_id", "agent_id")[:limit]
    )
    entries: list[dict[str, Any]] = []
    for row in rows:
        previous = entries[-1] if entries else None
        repeated = previous is not None and previous["kind"] == "queued" and previous["queue_id"] == row["queue_id"]
        if row["kind"] == "queued" and repeated:
            continue
        entries.append(dict(row))
    return entries
