"""Snooze (docs/imsubsystem.md, "Snooze"): an agent puts an assigned conversation aside until a time or
until the customer writes; it leaves their active list and comes back when the time passes (the timer,
`snoozes_wake`, on Celery beat or the embedded default's timer loop), when the customer writes (the one
write path's `message_stored` hook, subscribed in ImsubsystemConfig.ready), or when staff wake it.

Capacity (docs/routing.md, "Snoozed conversations"): each queue says whether its snoozed conversations
count toward their agent's capacity.

- Yes (the default): the work item stays with the agent and keeps its place. On return the conversation
  is simply theirs again, whether they are online or not, as any conversation they hold.
- No: routing lets the work item go (`work_snooze_release`), so the place frees and the agent may be
  offered other work; the conversation stays assigned to them in MySQL, asleep. On return it goes back
  through its queue with the agent preferred (`conversation_queue`, as a returning customer's): offered
  to them at once when they are available with a free place, else, after the queue's sticky window, to
  any agent who can take it.

The agent's sockets get `conversation.snoozed` and, on return, `conversation.unsnoozed` (docs/protocol.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from imsubsystem import selectors
from imsubsystem.events import group_agent
from imsubsystem.hooks import MessageStored
from imsubsystem.models import Conversation, SenderKind
from imsubsystem.services.conversations import conversation_queue
from imsubsystem.services.publish import event_publish_on_commit
from imsubsystem.services.state import S, SwitchError, lock, routing_refusals
from routing import services as routing_services
from routing.models import Queue

SNOOZE_MAX = timedelta(days=366)
WAKE_REASONS = ("time", "customer", "agent")


def _counts_toward_capacity(queue_id: int | None) -> bool:
    if queue_id is None:
        return True
    counts = Queue.objects.filter(pk=queue_id).values_list("snoozed_count_toward_capacity", flat=True).first()
    return True if counts is None else bool(counts)


def conversation_snooze(*, conversation_id: int, by_user_id: int, until: datetime | None = None) -> dict[str, Any]:
    """Snooze an assigned conversation until `until` (an aware time in the future, within a year) or, with
    None, until the customer writes. Snoozing a snoozed conversation changes its time. Refused, changing
    nothing: `not_found` when the user may not see it (the one visibility rule: its agent, the supervisors
    of its queue's teams, admins); `illegal_transition` unless it is assigned; `invalid` for a time that is
    not in the future. Returns {"conversation_id", "snoozed_until"}."""
    now = timezone.now()
    if until is not None:
        if not isinstance(until, datetime) or timezone.is_naive(until):
            raise SwitchError("invalid", "until must be a time with its time zone.")
        if until <= now:
            raise SwitchError("invalid", "until must be in the future.")
        if until > now + SNOOZE_MAX:
            raise SwitchError("invalid", "until must be within a year.")
    user = selectors.user_get(user_id=by_user_id)
    with transaction.atomic():
        conversation = lock(conversation_id)
        if user is None or not selectors.conversation_visible_to(user=user, conversation=conversation, acting=True):
            raise SwitchError("not_found", f"No conversation {conversation_id}.")
        if conversation.status != S.ASSIGNED or conversation.assignee_id is None:
            raise SwitchError("illegal_transition", "Only a conversation an agent holds can be snoozed.")
        release = not conversation.snooze_released and not _counts_toward_capacity(conversation.queue_id)
        conversation.snoozed_at = conversation.snoozed_at or now
        conversation.snoozed_until = until
        conversation.snooze_released = conversation.snooze_released or release
        conversation.save(update_fields=["snoozed_at", "snoozed_until", "snooze_released"])
        if release:
            with routing_refusals():
                routing_services.work_snooze_release(ref=conversation.pk)
        event_publish_on_commit(
            group=group_agent(conversation.assignee_id),
            frame={
                "type": "conversation.snoozed",
                "conversation_id": conversation.pk,
                "until": until.isoformat() if until else None,
            },
        )
    return {"conversation_id": conversation.pk, "snoozed_until": until.isoformat() if until else None}


def _wake(conversation: Conversation, reason: str) -> None:
    """Bring a locked, snoozed conversation back (the module's doc)."""
    agent_id = conversation.assignee_id
    released = conversation.snooze_released
    conversation.snoozed_at = None
    conversation.snoozed_until = None
    conversation.snooze_released = False
    conversation.save(update_fields=["snoozed_at", "snoozed_until", "snooze_released"])
    requeue = released and conversation.status == S.ASSIGNED
    if agent_id is not None:
        event_publish_on_commit(
            group=group_agent(agent_id),
            frame={
                "type": "conversation.unsnoozed",
                "conversation_id": conversation.pk,
                "reason": reason,
                "status": S.QUEUED if requeue else conversation.status,
            },
        )
    if requeue:
        if agent_id is not None:
            event_publish_on_commit(
                group=group_agent(agent_id),
                frame={"type": "conversation.released", "conversation_id": conversation.pk, "status": S.QUEUED},
            )
        conversation_queue(conversation_id=conversation.pk, preferred_agent_id=agent_id)


def conversation_unsnooze(*, conversation_id: int, reason: str = "agent", by_user_id: int | None = None) -> bool:
    """Wake a snoozed conversation now; False when it was not snoozed. With `by_user_id` (staff waking it
    by hand) the visibility rule applies as for snoozing."""
    if reason not in WAKE_REASONS:
        raise SwitchError("invalid", f"reason must be one of {', '.join(WAKE_REASONS)}.")
    user = selectors.user_get(user_id=by_user_id) if by_user_id is not None else None
    with transaction.atomic():
        conversation = lock(conversation_id)
        if by_user_id is not None and (
            user is None or not selectors.conversation_visible_to(user=user, conversation=conversation, acting=True)
        ):
            raise SwitchError("not_found", f"No conversation {conversation_id}.")
        if conversation.snoozed_at is None:
            return False
        _wake(conversation, reason)
    return True


def snoozes_wake(*, now: datetime | None = None, limit: int = 200) -> int:
    """The timer: wake every conversation whose snooze time came (each in its own transaction, checked
    again under its lock). Returns how many woke."""
    now = now or timezone.now()
    due = list(
        Conversation.objects.filter(snoozed_until__lte=now, snoozed_at__isnull=False)
        .order_by("snoozed_until")
        .values_list("pk", flat=True)[:limit]
    )
    woken = 0
    for conversation_id in due:
        with transaction.atomic():
            conversation = lock(conversation_id)
            if (
                conversation.snoozed_at is None
                or conversation.snoozed_until is None
                or conversation.snoozed_until > now
            ):
                continue
            _wake(conversation, "time")
            woken += 1
    return woken


def on_message_stored(event: MessageStored) -> None:
    """The write path's hook: a customer's message wakes a snoozed conversation, inside the message's
    transaction (the conversation row is locked by it already), so both commit together."""
    if not event.snoozed or event.sender_kind != SenderKind.CUSTOMER:
        return
    conversation = lock(event.conversation_id)
    if conversation.snoozed_at is not None:
        _wake(conversation, "customer")
