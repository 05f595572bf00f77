"""Receivers of routing's signals (interface: routing never imports the switch). Each one calls one
service, which moves the conversation and publishes the frames after its own commit."""

from __future__ import annotations

import functools
import logging

from imsubsystem import services

logger = logging.getLogger(__name__)


def _logged(receiver):
    """Routing sends its signals from one on_commit callback: a receiver that raised would stop the
    signals after it, so failures are logged here (the conversation row stays as it was)."""

    @functools.wraps(receiver)
    def wrapper(**kwargs):
        try:
            receiver(**kwargs)
        except Exception:
            logger.exception("%s failed for %s", receiver.__name__, kwargs)

    return wrapper


@_logged
def on_offer_created(*, offer_id, ref, agent_id, queue_id, expires_at, **kwargs) -> None:
    services.conversation_mark_offered(
        conversation_id=ref, offer_id=offer_id, agent_id=agent_id, expires_at=expires_at, queue_id=queue_id
    )


@_logged
def on_offer_closed(*, offer_id, ref, agent_id, reason, **kwargs) -> None:
    services.offer_closed_publish(offer_id=offer_id, conversation_id=ref, agent_id=agent_id, reason=reason)


@_logged
def on_work_assigned(*, ref, agent_id, queue_id=None, **kwargs) -> None:
    services.conversation_assign(conversation_id=ref, agent_id=agent_id, queue_id=queue_id)


@_logged
def on_work_queued(*, ref, queue_id, **kwargs) -> None:
    services.conversation_requeued(conversation_id=ref, queue_id=queue_id)


@_logged
def on_queue_changed(*, queue_id, **kwargs) -> None:
    services.queue_positions_publish(queue_id=queue_id)


@_logged
def on_agent_status_changed(*, agent_id, status, **kwargs) -> None:
    services.agent_presence_publish(agent_id=agent_id, status=status)


def connect() -> None:
    from routing import signals

    for signal, receiver in (
        (signals.offer_created, on_offer_created),
        (signals.offer_closed, on_offer_closed),
        (signals.work_assigned, on_work_assigned),
        (signals.work_queued, on_work_queued),
        (signals.queue_changed, on_queue_changed),
        (signals.agent_status_changed, on_agent_status_changed),
    ):
        signal.connect(receiver, dispatch_uid=f"imsubsystem.{receiver.__name__}", weak=False)
