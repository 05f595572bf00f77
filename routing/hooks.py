"""What routing tells the rest of the system (core/hooks.py): one frozen event and one hook per thing that
happened. Routing emits them after the transaction that wrote the decision commits, in the order the
backend made the decisions (`queue_changed` last, once per queue), with plain ints, strs and aware
datetimes only. The switch (`imsubsystem/routing_hooks.py`) and the bots (`bots/receivers.py`) subscribe
in their `AppConfig.ready`; routing never imports them.

Every hook is robust: a subscriber that fails is logged and the others still hear of the decision,
which stands in the backend and MySQL whatever a subscriber does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.hooks import Hook, HookEvent


@dataclass(frozen=True)
class OfferCreated(HookEvent):
    """An agent is offered a conversation until `expires_at`."""

    offer_id: str
    ref: int
    agent_id: int
    queue_id: int
    expires_at: datetime


@dataclass(frozen=True)
class OfferClosed(HookEvent):
    """An offer ended; `reason`: accepted | rejected | expired | cancelled."""

    offer_id: str
    ref: int
    agent_id: int
    reason: str


@dataclass(frozen=True)
class WorkAssigned(HookEvent):
    """An agent holds a conversation; `policy`: least_busy | round_robin | longest_idle | preferred |
    manual | transfer."""

    ref: int
    agent_id: int
    queue_id: int
    policy: str


@dataclass(frozen=True)
class WorkQueued(HookEvent):
    """A conversation waits in a queue: the first time, or again after a reject or expiry with no other
    agent, a transfer or an overflow."""

    ref: int
    queue_id: int


@dataclass(frozen=True)
class WorkReleased(HookEvent):
    """An agent let a conversation go; `reason`: completed | cancelled | abandoned | transferred ..."""

    ref: int
    queue_id: int
    agent_id: int | None
    reason: str


@dataclass(frozen=True)
class QueueChanged(HookEvent):
    """Positions in the queue moved."""

    queue_id: int


@dataclass(frozen=True)
class AgentStatusChanged(HookEvent):
    """An agent's routing status: available | away | offline | disconnected (no console)."""

    agent_id: int
    status: str


offer_created = Hook("routing.offer_created", OfferCreated, robust=True)
offer_closed = Hook("routing.offer_closed", OfferClosed, robust=True)
work_assigned = Hook("routing.work_assigned", WorkAssigned, robust=True)
work_queued = Hook("routing.work_queued", WorkQueued, robust=True)
work_released = Hook("routing.work_released", WorkReleased, robust=True)
queue_changed = Hook("routing.queue_changed", QueueChanged, robust=True)
agent_status_changed = Hook("routing.agent_status_changed", AgentStatusChanged, robust=True)

ALL = (offer_created, offer_closed, work_assigned, work_queued, work_released, queue_changed, agent_status_changed)
