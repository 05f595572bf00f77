"""A conversation's life: opened or reopened for a customer, handed to a queue, transferred, closed,
read. Routing is called directly (routing.services) under `routing_refusals`, inside the caller's
transaction, so the work item and the status commit together; routing's hook events arrive after
commit (imsubsystem/routing_hooks.py)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from imsubsystem import selectors
from imsubsystem.events import group_agents_of_queue, group_conversation
from imsubsystem.hooks import (
    ClosedReply,
    ConversationClosed,
    ConversationCreated,
    InboxOpening,
    bot_wanted,
    closed_reply_taken,
    conversation_closed,
    conversation_created,
)
from imsubsystem.models import CloseReason, Conversation, Inbox, SenderKind
from imsubsystem.services.drafts import Draft
from imsubsystem.services.messages import messages_store
from imsubsystem.services.publish import event_publish_on_commit, publish_status
from imsubsystem.services.state import (
    WAITING,
    S,
    SwitchError,
    language_for_new_conversation,
    lock,
    open_slot,
    reopen_window_start,
    routing_refusals,
    status_move,
    text_check,
    wait_clock_move,
)
from routing import services as routing_services
from routing.models import Queue


def bot_handles_inbox(*, inbox: Inbox) -> bool:
    """Whether a bot answers first in this inbox (the bots app answers the `bot_wanted` hook)."""
    return bool(bot_wanted.ask(InboxOpening(inbox_id=inbox.pk, inbox_kind=inbox.kind, inbox_key=inbox.key), False))


def conversation_for_customer(*, inbox_id: int, contact_id: int) -> int:
    """The id of the customer's open conversation in this inbox, reopening or opening one if needed.

    A customer writing within IM_REOPEN_WINDOW_S of the last close reopens that conversation (same
    history, same seq numbering, previous agent preferred); later, a new conversation starts. A new or
    reopened conversation goes to the bot when a bot handler serves the inbox, else straight to its queue.
    Two racing first messages cannot open two conversations: the unique open_slot lets one win.
    """
    slot = open_slot(inbox_id, contact_id)
    existing = Conversation.objects.filter(open_slot=slot).values_list("pk", flat=True).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return _conversation_open_or_reopen(inbox_id=inbox_id, contact_id=contact_id, slot=slot)
    except IntegrityError:
        existing = Conversation.objects.filter(open_slot=slot).values_list("pk", flat=True).first()
        if existing is None:
            raise
        return existing


def closed_conversation_answered(*, inbox_id: int, contact_id: int, text: str) -> int | None:
    """The customer's conversation closed within the reopen window whose pending bot question (the
    survey's rating or comment) this text answers; None when the text reopens or opens as usual."""
    if not text.strip() or Conversation.objects.filter(open_slot=open_slot(inbox_id, contact_id)).exists():
        return None
    recent = (
        Conversation.objects.filter(
            inbox_id=inbox_id, contact_id=contact_id, status=S.CLOSED, closed_at__gte=reopen_window_start()
        )
        .order_by("-closed_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if recent is None or not closed_reply_taken.ask(ClosedReply(conversation_id=recent, text=text), False):
        return None
    return recent


def _conversation_open_or_reopen(*, inbox_id: int, contact_id: int, slot: str) -> int:
    inbox = Inbox.objects.select_related("default_queue").get(pk=inbox_id)
    start_status = S.BOT if bot_handles_inbox(inbox=inbox) else S.QUEUED
    recent = (
        Conversation.objects.select_for_update()
        .filter(inbox_id=inbox_id, contact_id=contact_id, status=S.CLOSED, closed_at__gte=reopen_window_start())
        .order_by("-closed_at", "-id")
        .first()
    )
    if recent is not None:
        previous_agent = recent.assignee_id
        recent.open_slot = slot
        recent.closed_at = None
        if start_status == S.BOT:
            status_move(recent, S.BOT)
            recent.save(update_fields=["status", "open_slot", "closed_at"])
            publish_status(recent)
        else:
            # The status move and the enqueue happen in conversation_queue, under the same row lock.
            recent.save(update_fields=["open_slot", "closed_at"])
            conversation_queue(conversation_id=recent.pk, preferred_agent_id=previous_agent)
        return recent.pk

    conversation = Conversation.objects.create(
        contact_id=contact_id,
        inbox=inbox,
        queue_id=inbox.default_queue_id,
        status=start_status,
        open_slot=slot,
        language=language_for_new_conversation(inbox=inbox, contact_id=contact_id),
    )
    conversation_created.emit(
        ConversationCreated(
            conversation_id=conversation.pk,
            inbox_id=inbox_id,
            contact_id=contact_id,
            queue_id=conversation.queue_id,
            status=conversation.status,
            created_at=conversation.created_at,
        )
    )
    if start_status == S.QUEUED:
        conversation_queue(conversation_id=conversation.pk)
    else:
        publish_status(conversation)
    return conversation.pk


def conversation_queue(
    *,
    conversation_id: int,
    queue_id: int | None = None,
    priority: int | None = None,
    preferred_agent_id: int | None = None,
    skills: Sequence[str] = (),
) -> None:
    """Hand a conversation to routing: status queued, then routing.services.work_enqueue.

    The queue is the one given, else the conversation's, else its inbox's default queue. `skills` (the
    bot's hand-over picks them from the customer's answers) go to routing, which offers the conversation
    to agents having them; malformed ones are refused ("bad_request") and nothing changes. The call to
    routing runs inside this transaction, so the work item and the status commit together; routing's
    signals (offer_created...) arrive after the commit.
    """
    with transaction.atomic():
        conversation = lock(conversation_id)
        target_queue = queue_id or conversation.queue_id or conversation.inbox.default_queue_id
        if target_queue is None:
            raise SwitchError("unknown_queue", "The conversation has no queue and its inbox has no default queue.")
        now = timezone.now()
        # From the bot or a closed conversation this is the hand-over to a person: the wait starts.
        clock = wait_clock_move(conversation, S.QUEUED, now, handover=conversation.status in (S.BOT, S.CLOSED))
        status_move(conversation, S.QUEUED)
        conversation.queue_id = target_queue
        conversation.assignee_id = None
        conversation.first_queued_at = conversation.first_queued_at or now
        if priority is not None:
            conversation.priority = priority
        conversation.save(update_fields=["status", "queue", "assignee", "first_queued_at", "priority", *clock])
        # Registered before routing's own on-commit work (its offer of this conversation publishes
        # `offered`), so `queued` leaves first.
        publish_status(conversation)
        with routing_refusals():
            routing_services.work_enqueue(
                ref=conversation.pk,
                queue_id=target_queue,
                channel_kind=conversation.inbox.kind,
                priority=conversation.priority,
                preferred_agent_id=preferred_agent_id,
                enqueued_at=now,
                skills=list(skills),
            )
        event_publish_on_commit(
            group=group_agents_of_queue(target_queue), frame={"type": "queue.changed", "queue_id": target_queue}
        )


def conversation_transfer(
    *,
    conversation_id: int,
    by_user_id: int,
    queue_id: int | None = None,
    agent_id: int | None = None,
    note: str = "",
) -> None:
    """Move a conversation to another queue or agent. Routing decides; its signals move the status.

    A private system note records who moved it where, so the history explains the change. `note`, the
    transferring agent's words for whoever receives it (the console's transfer dialog and the REST API
    alike), follows as their internal note and becomes the conversation's `transfer_note`: the receiving
    agent's offer carries it and the console shows it at the top of the thread. A transfer without one
    clears the last one.
    """
    if (queue_id is None) == (agent_id is None):
        raise SwitchError("invalid", "Give exactly one of queue_id or agent_id.")
    if not isinstance(note, str) or len(note) > 4000:
        raise SwitchError("invalid", "note must be a text of at most 4,000 characters.")
    text_check(note, field="note")
    with transaction.atomic():
        conversation = lock(conversation_id)
        if conversation.status == S.CLOSED:
            raise SwitchError("conversation_closed", "A closed conversation cannot be transferred.")
        if conversation.snoozed_at is not None:
            raise SwitchError("illegal_transition", "The conversation is snoozed: wake it before transferring it.")
        if conversation.status == S.BOT:
            if queue_id is None:
                raise SwitchError("illegal_transition", "Hand a bot conversation to a queue first.")
            conversation_queue(conversation_id=conversation.pk, queue_id=queue_id)
        else:
            with routing_refusals():
                routing_services.work_transfer(ref=conversation.pk, queue_id=queue_id, agent_id=agent_id)
            if queue_id is not None and conversation.status in WAITING:
                # A waiting conversation moved to another queue starts a leg there; the customer's wait
                # runs on (one that an agent held starts its leg when routing hands it back).
                conversation.queued_at = timezone.now()
                conversation.save(update_fields=["queued_at"])
        by = selectors.user_display_name(selectors.user_get(user_id=by_user_id))
        if queue_id is not None:
            target = Queue.objects.filter(pk=queue_id).values_list("name", flat=True).first() or f"queue {queue_id}"
        else:
            target = selectors.user_display_name(selectors.user_get(user_id=agent_id))
        # A system note through the one write path (the row is locked already by this transaction).
        drafts = [
            Draft(
                conversation_id=conversation.pk,
                sender_kind=SenderKind.SYSTEM,
                text=f"Transferred to {target} by {by}.",
                private=True,
            )
        ]
        if note.strip():
            drafts.append(
                Draft(
                    conversation_id=conversation.pk,
                    sender_kind=SenderKind.AGENT,
                    sender_user_id=by_user_id,
                    text=note.strip(),
                    private=True,
                )
            )
        stored = messages_store(drafts)
        note_id = stored[1]["message"]["id"] if note.strip() and "message" in stored[1] else None
        Conversation.objects.filter(pk=conversation.pk).update(transfer_note_id=note_id)


def close_reason_for(reason_code: str | None) -> CloseReason | None:
    """The active close reason of this code (docs/imsubsystem.md, "Close reasons"); None for none given;
    `invalid` for a code that is not an active reason."""
    if reason_code is None or reason_code == "":
        return None
    if not isinstance(reason_code, str):
        raise SwitchError("invalid", "reason_code must be the code of a close reason.")
    reason = CloseReason.objects.filter(code=reason_code, is_active=True).first()
    if reason is None:
        raise SwitchError("invalid", f"Unknown close reason {reason_code[:64]!r}.")
    return reason


def conversation_close(
    *, conversation_id: int, by_user_id: int | None = None, wrap_up: str = "", reason_code: str | None = None
) -> None:
    """Close with an optional wrap-up note (free text) and an optional close reason from the admin's list
    (`reason_code`); routing frees the agent (work_complete) or drops the waiting item (work_cancel). A
    snoozed conversation stops being snoozed. Closing a closed conversation is refused."""
    if not isinstance(wrap_up, str) or len(wrap_up) > 10000:
        raise SwitchError("invalid", "wrap_up must be a text of at most 10,000 characters.")
    text_check(wrap_up, field="wrap_up")
    reason = close_reason_for(reason_code)
    with transaction.atomic():
        conversation = lock(conversation_id)
        previous = conversation.status
        status_move(conversation, S.CLOSED)
        conversation.closed_at = timezone.now()
        conversation.open_slot = None
        if wrap_up.strip():
            conversation.wrap_up = wrap_up.strip()
        if reason is not None:
            conversation.close_reason = reason
        conversation.snoozed_at = conversation.snoozed_until = None
        conversation.snooze_released = False
        conversation.save(
            update_fields=[
                "status",
                "closed_at",
                "open_slot",
                "wrap_up",
                "close_reason",
                "snoozed_at",
                "snoozed_until",
                "snooze_released",
            ]
        )
        conversation_closed.emit(
            ConversationClosed(
                conversation_id=conversation.pk,
                inbox_id=conversation.inbox_id,
                contact_id=conversation.contact_id,
                queue_id=conversation.queue_id,
                assignee_id=conversation.assignee_id,
                previous_status=previous,
                closed_by_user_id=by_user_id,
                wrap_up=conversation.wrap_up,
                closed_at=conversation.closed_at,
                close_reason=reason.code if reason is not None else "",
            )
        )
        publish_status(conversation)  # before routing's on-commit work, as in conversation_queue
        with routing_refusals():
            if previous == S.ASSIGNED:
                routing_services.work_complete(ref=conversation.pk)
            elif previous in (S.QUEUED, S.OFFERED):
                routing_services.work_cancel(ref=conversation.pk, reason="closed")


def conversation_reopen(*, conversation_id: int, by_user_id: int) -> None:
    """Staff reopen a closed conversation: the same id, history and seq numbering, back in its queue
    (`conversation_queue`, the previous agent preferred, as when a customer reopens one), with a private
    system note saying who reopened it. Refused with `illegal_transition` when it is not closed or when
    the customer already has another open conversation in the inbox (one open conversation per customer
    and inbox); nothing changes then."""
    try:
        with transaction.atomic():
            conversation = lock(conversation_id)
            if conversation.status != S.CLOSED:
                raise SwitchError("illegal_transition", "Only a closed conversation can be reopened.")
            slot = open_slot(conversation.inbox_id, conversation.contact_id)
            if Conversation.objects.filter(open_slot=slot).exists():
                raise SwitchError(
                    "illegal_transition", "The customer has another open conversation in this inbox: continue that one."
                )
            previous_agent = conversation.assignee_id
            conversation.open_slot = slot
            conversation.closed_at = None
            conversation.save(update_fields=["open_slot", "closed_at"])
            conversation_queue(conversation_id=conversation.pk, preferred_agent_id=previous_agent)
            by = selectors.user_display_name(selectors.user_get(user_id=by_user_id))
            messages_store(
                [
                    Draft(
                        conversation_id=conversation.pk,
                        sender_kind=SenderKind.SYSTEM,
                        text=f"Reopened by {by}.",
                        private=True,
                    )
                ]
            )
    except IntegrityError:
        # The customer opened a conversation in the inbox meanwhile (the unique open slot).
        raise SwitchError(
            "illegal_transition", "The customer has another open conversation in this inbox: continue that one."
        ) from None


def conversation_read_mark(*, conversation_id: int, by: str, up_to_seq: int) -> int:
    """Move a read pointer forward (never back, never past last_seq); publishes `read` if it moved."""
    if by not in ("customer", "agent"):
        raise SwitchError("invalid", "by must be customer or agent.")
    if not isinstance(up_to_seq, int) or up_to_seq < 0:
        raise SwitchError("invalid", "up_to_seq must be a non-negative integer.")
    field = f"{by}_last_read_seq"
    conversation = Conversation.objects.filter(pk=conversation_id).values("last_seq", field).first()
    if conversation is None:
        raise SwitchError("not_found", f"No conversation {conversation_id}.")
    target = min(up_to_seq, conversation["last_seq"])
    moved = Conversation.objects.filter(pk=conversation_id, **{f"{field}__lt": target}).update(**{field: target})
    if moved:
        event_publish_on_commit(
            group=group_conversation(conversation_id),
            frame={"type": "read", "conversation_id": conversation_id, "by": by, "up_to_seq": target},
        )
    return max(target, conversation[field])
