"""Subscribers to routing's hooks (routing/hooks.py; routing never imports the switch). Each one calls one
service, which moves the conversation and publishes the frames after its own commit. Routing's hooks are
robust: a subscriber that fails is logged there and the others still run (the conversation row stays as
it was)."""

from __future__ import annotations

from imsubsystem import services
from routing import hooks
from routing.hooks import AgentStatusChanged, OfferClosed, OfferCreated, QueueChanged, WorkAssigned, WorkQueued


def on_offer_created(event: OfferCreated) -> None:
    services.conversation_mark_offered(
        conversation_id=event.ref,
        offer_id=event.offer_id,
        agent_id=event.agent_id,
        expires_at=event.expires_at,
        queue_id=event.queue_id,
    )


def on_offer_closed(event: OfferClosed) -> None:
    services.offer_closed_publish(
        offer_id=event.offer_id, conversation_id=event.ref, agent_id=event.agent_id, reason=event.reason
    )


def on_work_assigned(event: WorkAssigned) -> None:
    services.conversation_assign(conversation_id=event.ref, agent_id=event.agent_id, queue_id=event.queue_id)


def on_work_queued(event: WorkQueued) -> None:
    services.conversation_requeued(conversation_id=event.ref, queue_id=event.queue_id)


def on_queue_changed(event: QueueChanged) -> None:
    services.queue_positions_publish(queue_id=event.queue_id)


def on_agent_status_changed(event: AgentStatusChanged) -> None:
    services.agent_presence_publish(agent_id=event.agent_id, status=event.status)


def connect() -> None:
    """Subscribe to routing's hooks (from ImsubsystemConfig.ready; subscribing again replaces)."""
    hooks.offer_created.subscribe(on_offer_created)
    hooks.offer_closed.subscribe(on_offer_closed)
    hooks.work_assigned.subscribe(on_work_assigned)
    hooks.work_queued.subscribe(on_work_queued)
    hooks.queue_changed.subscribe(on_queue_changed)
    hooks.agent_status_changed.subscribe(on_agent_status_changed)
