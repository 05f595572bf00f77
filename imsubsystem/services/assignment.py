"""The bridge to routing: the status moves routing's hook events drive (imsubsystem/routing_hooks.py
calls these: offered, assigned, requeued, positions, presence) and the agents' commands the switch passes
to routing (offer answers, picks, presence, console liveness)."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from imsubsystem import selectors
from imsubsystem.events import group_agent, group_agents_of_queue, group_conversation, group_supervisors
from imsubsystem.hooks import ConversationAssigned, conversation_assigned
from imsubsystem.models import Conversation
from imsubsystem.services.publish import event_publish_on_commit, publish_status
from imsubsystem.services.state import S, SwitchError, lock, routing_refusals, status_move_allowed, wait_clock_move
from routing import services as routing_services


def conversation_mark_offered(
    *, conversation_id: int, offer_id: str, agent_id: int, expires_at: datetime, queue_id: int | None = None
) -> bool:
    """Routing offered the conversation to an agent (of `queue_id`, which may be a new queue after an
    overflow or a transfer): status offered, `offer` to the agent's sockets.

    Returns False (and changes nothing) when the conversation can no longer be offered (closed meanwhile).
    """
    with transaction.atomic():
        conversation = lock(conversation_id)
        if not status_move_allowed(current=conversation.status, new=S.OFFERED):
            return False
        moved = conversation.status != S.OFFERED
        fields = ["status", *wait_clock_move(conversation, S.OFFERED, timezone.now())]
        conversation.status = S.OFFERED
        if queue_id and conversation.queue_id != queue_id:
            conversation.queue_id = queue_id
            fields.append("queue")
        conversation.save(update_fields=fields)
        event_publish_on_commit(
            group=group_agent(agent_id),
            frame={
                "type": "offer",
                "offer_id": str(offer_id),
                "conversation": selectors.conversation_summary(conversation),
                "expires_at": expires_at.isoformat(),
                # The transfer's note for whoever receives it (services/conversations.py).
                "note": selectors.transfer_note_of(conversation),
            },
        )
        if moved:
            publish_status(conversation)
    return True


def offer_closed_publish(*, offer_id: str, conversation_id: int, agent_id: int, reason: str) -> None:
    event_publish_on_commit(
        group=group_agent(agent_id),
        frame={"type": "offer.closed", "offer_id": str(offer_id), "conversation_id": conversation_id, "reason": reason},
    )


def conversation_assign(*, conversation_id: int, agent_id: int, queue_id: int | None = None) -> bool:
    """Routing gave the conversation to an agent (offer accepted, pick, transfer, direct assignment)."""
    with transaction.atomic():
        conversation = lock(conversation_id)
        if not status_move_allowed(current=conversation.status, new=S.ASSIGNED):
            return False
        previous = conversation.assignee_id
        if conversation.status == S.ASSIGNED and previous == agent_id:
            return True
        now = timezone.now()
        clock = wait_clock_move(conversation, S.ASSIGNED, now)
        conversation.status = S.ASSIGNED
        conversation.assignee_id = agent_id
        if queue_id:
            conversation.queue_id = queue_id
        conversation.assigned_at = conversation.assigned_at or now
        conversation.save(update_fields=["status", "assignee", "queue", "assigned_at", *clock])
        conversation_assigned.emit(
            ConversationAssigned(
                conversation_id=conversation.pk,
                inbox_id=conversation.inbox_id,
                contact_id=conversation.contact_id,
                queue_id=conversation.queue_id,
                agent_id=agent_id,
                previous_agent_id=previous,
                assigned_at=now,
            )
        )
        agent = get_user_model().objects.filter(pk=agent_id).first()
        conversation.assignee = agent
        summary = selectors.conversation_summary(conversation)
        # The queue it is in now, named: a transfer may have moved it, and the console's header says which.
        summary["queue"] = selectors.queue_ref(queue_id=conversation.queue_id)
        frame = {
            "type": "conversation.assigned",
            "conversation": summary,
            "agent": {"id": agent_id, "name": selectors.user_display_name(agent)},
            "previous_agent_id": previous,
        }
        event_publish_on_commit(group=group_agent(agent_id), frame=frame)
        if previous and previous != agent_id:
            event_publish_on_commit(group=group_agent(previous), frame=frame)
        publish_status(conversation)
    return True


def conversation_requeued(*, conversation_id: int, queue_id: int) -> bool:
    """Routing put the conversation (back) in a queue: after a reject or expiry, a transfer, an overflow."""
    with transaction.atomic():
        conversation = lock(conversation_id)
        # Only a conversation routing still holds goes back to a queue; a closed one reopens through
        # conversation_queue when the customer writes, never through a late signal.
        if conversation.status not in (S.QUEUED, S.OFFERED, S.ASSIGNED):
            return False
        previous = conversation.assignee_id
        now = timezone.now()
        # Back from an agent (a transfer) starts a leg; after an offer expired, was rejected or withdrawn,
        # or an overflow, the customer is still waiting and the clock runs on.
        clock = wait_clock_move(conversation, S.QUEUED, now)
        conversation.status = S.QUEUED
        conversation.queue_id = queue_id
        conversation.assignee_id = None
        conversation.first_queued_at = conversation.first_queued_at or now
        conversation.save(update_fields=["status", "queue", "assignee", "first_queued_at", *clock])
        if previous:
            event_publish_on_commit(
                group=group_agent(previous),
                frame={"type": "conversation.released", "conversation_id": conversation.pk, "status": S.QUEUED},
            )
        publish_status(
            conversation,
            queue_info=selectors.queue_info(conversation.pk, waited_s=selectors.customer_wait_s(conversation, now=now)),
        )
        event_publish_on_commit(
            group=group_agents_of_queue(queue_id), frame={"type": "queue.changed", "queue_id": queue_id}
        )
    return True


def queue_positions_publish(*, queue_id: int) -> None:
    """Positions in a queue moved: tell each waiting customer theirs, and the queue's agents."""
    waiting = Conversation.objects.filter(queue_id=queue_id, status__in=(S.QUEUED,)).only(
        "pk", "status", "waiting_since", "waited", "status_version"
    )
    infos = selectors.queue_infos(queue_id)  # every position from one routing read
    now = timezone.now()
    for conversation in waiting:
        conversation_id, version = conversation.pk, conversation.status_version
        info = infos.get(conversation_id)
        if info is None:
            continue
        info = {**info, "waited_s": selectors.customer_wait_s(conversation, now=now)}
        event_publish_on_commit(
            group=group_conversation(conversation_id),
            frame={
                "type": "conversation.status",
                "conversation_id": conversation_id,
                "status": S.QUEUED,
                # The version of the queued status read above: if the conversation moved on meanwhile,
                # its newer status frame has a higher one and clients drop this frame.
                "version": version,
                "queue": info,
            },
        )
    event_publish_on_commit(
        group=group_agents_of_queue(queue_id), frame={"type": "queue.changed", "queue_id": queue_id}
    )


def agent_presence_publish(*, agent_id: int, status: str) -> None:
    frame = {"type": "presence", "agent_id": agent_id, "status": status}
    event_publish_on_commit(group=group_agent(agent_id), frame=frame)
    event_publish_on_commit(group=group_supervisors(), frame=frame)


# --- Agent commands ------------------------------------------------------------------------------------
def offer_answer(*, offer_id: str, agent_id: int, accept: bool) -> None:
    """Accept or reject an offer; routing's work_assigned / work_queued signals move the conversation."""
    with routing_refusals():
        if accept:
            routing_services.offer_accept(offer_id=str(offer_id), agent_id=agent_id)
        else:
            routing_services.offer_reject(offer_id=str(offer_id), agent_id=agent_id)


def conversation_pick(*, conversation_id: int, agent_id: int) -> None:
    """Manual pick from a queue list; routing checks the agent's queues and capacity."""
    conversation = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True).first()
    if conversation is None:
        raise SwitchError("not_found", f"No conversation {conversation_id}.")
    if conversation not in (S.QUEUED, S.OFFERED):
        raise SwitchError("not_waiting", "The conversation is not waiting in a queue.")
    with routing_refusals():
        routing_services.work_pick(ref=conversation_id, agent_id=agent_id)


def agent_presence_set(*, agent_id: int, status: str) -> None:
    if status not in ("available", "away", "offline"):
        raise SwitchError("invalid", "status must be available, away or offline.")
    with routing_refusals():
        routing_services.agent_presence_set(agent_id=agent_id, status=status)


def agent_console_open(*, agent_id: int, console: str) -> None:
    """An agent console socket is live (connect, then every heartbeat): routing counts the agent connected."""
    with routing_refusals():
        routing_services.agent_console_open(agent_id=agent_id, console=console)


def agent_console_close(*, agent_id: int, console: str) -> int:
    """An agent console socket closed; returns how many of the agent's consoles are still live."""
    with routing_refusals():
        return routing_services.agent_console_close(agent_id=agent_id, console=console)


def agent_consoles_sweep() -> list[int]:
    """Count disconnected the agents whose last console went away longer than the grace ago."""
    with routing_refusals():
        return routing_services.agent_consoles_sweep()
