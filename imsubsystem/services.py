"""The switch: the only code that writes conversations and messages, and the only code that publishes
to the channel layer (always after commit, through `event_publish_on_commit`).

Every function is keyword-only and takes and returns plain values (ids, dicts in the shape of
imsubsystem/events.py), so consumers, views, Celery tasks, the gateway and the bots call them alike.
Refusals raise SwitchError(code, detail) with a code from events.ERROR_CODES and change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import DomainError
from core.metrics import MESSAGES_IN
from core.text import text_storable, unstorable_detail
from crm.models import Contact
from imsubsystem import selectors
from imsubsystem.events import (
    error_frame,
    group_agent,
    group_agents_of_queue,
    group_conversation,
    group_supervisors,
    group_widget_session,
)
from imsubsystem.models import (
    OPEN_STATUSES,
    WAITING_STATUSES,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Inbox,
    Message,
    SenderKind,
    sender_key_for,
)
from imsubsystem.signals import message_stored
from realtime import switch_layer

logger = logging.getLogger(__name__)

S = ConversationStatus

# Which status may follow which. A move not listed is refused with "illegal_transition"; the routing
# hooks rely on that to ignore late signals (an offer for a conversation closed meanwhile).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.BOT: frozenset({S.QUEUED, S.CLOSED}),
    S.QUEUED: frozenset({S.QUEUED, S.OFFERED, S.ASSIGNED, S.CLOSED}),
    S.OFFERED: frozenset({S.OFFERED, S.QUEUED, S.ASSIGNED, S.CLOSED}),
    S.ASSIGNED: frozenset({S.ASSIGNED, S.QUEUED, S.OFFERED, S.CLOSED}),
    # A closed conversation only reopens (docs/imsubsystem.md, "Reopen or new").
    S.CLOSED: frozenset({S.BOT, S.QUEUED}),
}


class SwitchError(DomainError):
    """A request the switch refuses; nothing was changed (core/errors.py: code, detail, retry_after_s)."""


def status_move_allowed(*, current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def _status_move(conversation: Conversation, new: str) -> None:
    if not status_move_allowed(current=conversation.status, new=new):
        raise SwitchError("illegal_transition", f"A conversation cannot go from {conversation.status} to {new}.")
    conversation.status = new


WAITING = WAITING_STATUSES


def _wait_clock_move(conversation: Conversation, new: str, now: datetime, *, handover: bool = False) -> list[str]:
    """Keep the customer's wait (docs/supervisor.md) as the status moves to `new`; returns the changed
    fields. Call it before the status changes.

    A hand-over to a person (from the bot, or a reopened conversation) starts the wait and a leg. Back in
    a queue after an agent held the conversation (a transfer) starts a leg and the wait carries on from
    the total so far. An agent taking a waiting conversation records the total. Anything between two
    waiting statuses (an offer made, expired, rejected or withdrawn, an overflow) changes nothing.
    """
    handover = handover or conversation.waiting_since is None
    waiting_before = conversation.status in WAITING and not handover
    if new in WAITING and not waiting_before:
        carried = conversation.waited if not handover and conversation.waited else timedelta(0)
        conversation.waiting_since = now - carried
        conversation.queued_at = now
        if handover:
            conversation.waited = None
        return ["waiting_since", "queued_at", "waited"]
    if waiting_before and new == S.ASSIGNED:
        since = conversation.waiting_since or now
        conversation.waited = max(now - since, timedelta(0))
        return ["waited"]
    return []


# --- Publishing --------------------------------------------------------------------------------------
class _LoopPublisher:
    """Sends a process's events to the channel layer from its event loop.

    Services run in database_sync_to_async threads. Sending from there with async_to_sync would block
    the thread (and with it every other socket's database work in this process) for the Redis round
    trips of each event; instead the thread hands the event to the loop and goes on. Each group has
    its own drain task, so one conversation's frames leave in the order they were handed over (seq
    order) while different conversations' frames go out side by side.
    """

    def __init__(self) -> None:
        self.pending: dict[str, deque[dict[str, Any]]] = {}
        # Bounded so a burst over thousands of conversations never asks Redis for thousands of
        # connections at once (redis-py raises MaxConnectionsError past its pool size).
        self.slots = asyncio.Semaphore(getattr(settings, "IM_PUBLISH_CONCURRENCY", 64))

    def push(self, group: str, event: dict[str, Any]) -> None:  # runs in the loop's thread
        queue = self.pending.get(group)
        if queue is not None:
            queue.append(event)
            return
        self.pending[group] = deque([event])
        asyncio.get_running_loop().create_task(self.drain(group))

    async def drain(self, group: str) -> None:
        layer = switch_layer()
        queue = self.pending[group]
        try:
            while queue:
                event = queue[0]
                try:
                    if layer.pipelined:
                        # Local members get it at once, whatever Redis is doing; no connection held.
                        await layer.group_send(group, event)
                    else:
                        async with self.slots:
                            await layer.group_send(group, event)
                except Exception:
                    # The layer is a fast path, not the record: clients recover the frame by seq + resume.
                    logger.exception("Publishing %s to %s failed", event.get("frame", {}).get("type"), group)
                queue.popleft()
        finally:
            del self.pending[group]


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPublisher] = weakref.WeakKeyDictionary()


def _calling_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that called into this sync thread through sync_to_async, if any and still running."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() and not loop.is_closed() else None


def _group_send(group: str, event: dict[str, Any]) -> None:
    layer = switch_layer()
    if layer is None:
        return
    loop = _calling_loop()
    if loop is not None:
        publisher = _publishers.get(loop)
        if publisher is None:
            publisher = _publishers[loop] = _LoopPublisher()
        loop.call_soon_threadsafe(publisher.push, group, event)
        return
    # Celery workers, commands and plain threads have no loop of their own to hand over to.
    try:
        layer.group_send_blocking(group, event)
    except Exception:
        logger.exception("Publishing %s to %s failed", event.get("frame", {}).get("type"), group)


def event_publish_on_commit(
    *, group: str, frame: dict[str, Any], hide_from_customer: bool = False, origin: str | None = None
) -> None:
    """Send `frame` to a channel-layer group once the current transaction commits (at once outside one).

    hide_from_customer: customer sockets drop the frame (a private message.new becomes message.hidden).
    origin: the sending socket's channel name, which skips its own echo (typing).
    """
    # `group` lets a socket drop a frame of a conversation it left while the frame waited in its queue.
    event = {
        "type": "sb.event",
        "frame": frame,
        "hide_from_customer": hide_from_customer,
        "origin": origin,
        "group": group,
    }
    transaction.on_commit(partial(_group_send, group, event), robust=True)


def _status_frame(conversation: Conversation, *, queue_info: dict | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "conversation.status",
        "conversation_id": conversation.pk,
        "status": conversation.status,
        "version": conversation.status_version,
    }
    if queue_info is not None:
        frame["queue"] = queue_info
    if conversation.status == S.ASSIGNED and conversation.assignee_id:
        assignee = conversation.assignee or selectors.user_get(user_id=conversation.assignee_id)
        frame["agent"] = {"name": selectors.user_display_name(assignee)}
    return frame


def _publish_status(conversation: Conversation, *, queue_info: dict | None = None) -> None:
    """A status move: bump the conversation's status_version (its row is locked by the caller, so the
    versions follow the commit order) and publish the frame carrying it after commit."""
    conversation.status_version += 1
    conversation.save(update_fields=["status_version"])
    event_publish_on_commit(
        group=group_conversation(conversation.pk), frame=_status_frame(conversation, queue_info=queue_info)
    )


# --- Bots --------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _bot_handlers_for(paths: tuple[str, ...]) -> tuple[Callable, ...]:
    return tuple(import_string(path) for path in paths)


def bot_handlers() -> tuple[Callable, ...]:
    return _bot_handlers_for(tuple(getattr(settings, "IM_BOT_HANDLERS", ()) or ()))


def bot_handles_inbox(*, inbox: Inbox) -> bool:
    """A handler serves every inbox unless it has handles_inbox(inbox_id=, inbox_kind=, inbox_key=)."""
    for handler in bot_handlers():
        accepts = getattr(handler, "handles_inbox", None)
        if accepts is None or accepts(inbox_id=inbox.pk, inbox_kind=inbox.kind, inbox_key=inbox.key):
            return True
    return False


def bot_takes_closed_reply(*, conversation_id: int, text: str) -> bool:
    """Whether a customer's text answers a question a bot asked after the conversation closed (the
    satisfaction survey): such a reply is stored on the closed conversation, which stays closed. A
    handler says so through takes_closed_reply(conversation_id=, text=); none means no."""
    for handler in bot_handlers():
        takes = getattr(handler, "takes_closed_reply", None)
        if takes is None:
            continue
        try:
            if takes(conversation_id=conversation_id, text=text):
                return True
        except Exception:
            logger.exception("Bot handler %r failed on a reply to closed conversation %s", handler, conversation_id)
    return False


def _bot_notify(event: dict[str, Any]) -> None:
    for handler in bot_handlers():
        try:
            handler(event)
        except Exception:
            logger.exception("Bot handler %r failed on message %s", handler, event["message"]["id"])


# --- Routing hand-off ----------------------------------------------------------------------------------
def _routing():
    from routing import services as routing_services

    return routing_services


def _routing_call(name: str, **kwargs):
    from routing.exceptions import RoutingError

    try:
        return getattr(_routing(), name)(**kwargs)
    except RoutingError as exc:
        # Routing's default detail is its code in words ("not waiting"): the sentence says more.
        detail = "" if exc.detail == exc.code.replace("_", " ") else exc.detail
        raise SwitchError(exc.code, detail) from exc


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
        conversation = _lock(conversation_id)
        target_queue = queue_id or conversation.queue_id or conversation.inbox.default_queue_id
        if target_queue is None:
            raise SwitchError("unknown_queue", "The conversation has no queue and its inbox has no default queue.")
        now = timezone.now()
        # From the bot or a closed conversation this is the hand-over to a person: the wait starts.
        clock = _wait_clock_move(conversation, S.QUEUED, now, handover=conversation.status in (S.BOT, S.CLOSED))
        _status_move(conversation, S.QUEUED)
        conversation.queue_id = target_queue
        conversation.assignee_id = None
        conversation.first_queued_at = conversation.first_queued_at or now
        if priority is not None:
            conversation.priority = priority
        conversation.save(update_fields=["status", "queue", "assignee", "first_queued_at", "priority", *clock])
        # Registered before routing's own on-commit work (its offer of this conversation publishes
        # `offered`), so `queued` leaves first.
        _publish_status(conversation)
        _routing_call(
            "work_enqueue",
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


def _lock(conversation_id: int) -> Conversation:
    try:
        # No select_related: FOR UPDATE would also lock the joined inbox and contact rows, and every
        # message of an inbox would wait for every other.
        return Conversation.objects.select_for_update().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise SwitchError("not_found", f"No conversation {conversation_id}.") from None


# --- Opening and reopening -------------------------------------------------------------------------------
def _open_slot(inbox_id: int, contact_id: int) -> str:
    return f"{inbox_id}:{contact_id}"


def _reopen_window_start() -> datetime:
    """Conversations closed at or after this moment are within IM_REOPEN_WINDOW_S: the customer's next
    message reopens them, and bot or system messages are still accepted on them."""
    return timezone.now() - timedelta(seconds=getattr(settings, "IM_REOPEN_WINDOW_S", 900))


def conversation_for_customer(*, inbox_id: int, contact_id: int) -> int:
    """The id of the customer's open conversation in this inbox, reopening or opening one if needed.

    A customer writing within IM_REOPEN_WINDOW_S of the last close reopens that conversation (same
    history, same seq numbering, previous agent preferred); later, a new conversation starts. A new or
    reopened conversation goes to the bot when a bot handler serves the inbox, else straight to its queue.
    Two racing first messages cannot open two conversations: the unique open_slot lets one win.
    """
    slot = _open_slot(inbox_id, contact_id)
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


def _closed_conversation_answered(*, inbox_id: int, contact_id: int, text: str) -> int | None:
    """The customer's conversation closed within the reopen window whose pending bot question (the
    survey's rating or comment) this text answers; None when the text reopens or opens as usual."""
    if not text.strip() or Conversation.objects.filter(open_slot=_open_slot(inbox_id, contact_id)).exists():
        return None
    recent = (
        Conversation.objects.filter(
            inbox_id=inbox_id, contact_id=contact_id, status=S.CLOSED, closed_at__gte=_reopen_window_start()
        )
        .order_by("-closed_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if recent is None or not bot_takes_closed_reply(conversation_id=recent, text=text):
        return None
    return recent


def _conversation_open_or_reopen(*, inbox_id: int, contact_id: int, slot: str) -> int:
    inbox = Inbox.objects.select_related("default_queue").get(pk=inbox_id)
    start_status = S.BOT if bot_handles_inbox(inbox=inbox) else S.QUEUED
    recent = (
        Conversation.objects.select_for_update()
        .filter(inbox_id=inbox_id, contact_id=contact_id, status=S.CLOSED, closed_at__gte=_reopen_window_start())
        .order_by("-closed_at", "-id")
        .first()
    )
    if recent is not None:
        previous_agent = recent.assignee_id
        recent.open_slot = slot
        recent.closed_at = None
        if start_status == S.BOT:
            _status_move(recent, S.BOT)
            recent.save(update_fields=["status", "open_slot", "closed_at"])
            _publish_status(recent)
        else:
            # The status move and the enqueue happen in conversation_queue, under the same row lock.
            recent.save(update_fields=["open_slot", "closed_at"])
            conversation_queue(conversation_id=recent.pk, preferred_agent_id=previous_agent)
        return recent.pk

    conversation = Conversation.objects.create(
        contact_id=contact_id, inbox=inbox, queue_id=inbox.default_queue_id, status=start_status, open_slot=slot
    )
    if start_status == S.QUEUED:
        conversation_queue(conversation_id=conversation.pk)
    else:
        _publish_status(conversation)
    return conversation.pk


# --- Messages -----------------------------------------------------------------------------------------------
def text_check(value: str, *, field: str) -> None:
    """Refuse text that cannot be stored (a lone surrogate: core/text.py) with `invalid`."""
    if not text_storable(value):
        raise SwitchError("invalid", unstorable_detail(field))


def _validate_message_input(*, text: str, attachment_ids: Sequence[int], client_id: str | None) -> list[int]:
    if not isinstance(text, str):
        raise SwitchError("invalid", "text must be a string.")
    text_check(text, field="text")
    limit = getattr(settings, "IM_MAX_TEXT_LENGTH", 4000)
    if len(text) > limit:
        raise SwitchError("too_long", f"The text is {len(text)} characters; the limit is {limit}.")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 64):
        raise SwitchError("invalid", "client_id must be a string of 1 to 64 characters.")
    if client_id is not None:
        text_check(client_id, field="client_id")
    try:
        ids = [int(i) for i in attachment_ids]
    except (TypeError, ValueError):
        raise SwitchError("invalid", "attachment_ids must be a list of integers.") from None
    if len(ids) > 10:
        raise SwitchError("invalid", "At most 10 attachments per message.")
    if not text.strip() and not ids:
        raise SwitchError("empty", "A message needs text or an attachment.")
    return ids


MAX_BUTTONS = 10
MAX_BUTTON_LABEL = 200


def _validate_buttons(buttons: Sequence[dict[str, str]], *, sender_kind: str, private: bool) -> list[dict[str, str]]:
    if not buttons:
        return []
    if sender_kind != SenderKind.BOT or private:
        raise SwitchError("invalid", "Only a bot message to the customer can carry buttons.")
    if isinstance(buttons, (str, dict)) or len(buttons) > MAX_BUTTONS:
        raise SwitchError("invalid", f"buttons must be a list of at most {MAX_BUTTONS} choices.")
    cleaned = []
    for button in buttons:
        label = button.get("label") if isinstance(button, dict) else None
        value = button.get("value", label) if isinstance(button, dict) else None
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_BUTTON_LABEL:
            raise SwitchError("invalid", f"Each button needs a label of 1 to {MAX_BUTTON_LABEL} characters.")
        if not isinstance(value, str) or len(value) > MAX_BUTTON_LABEL:
            raise SwitchError("invalid", f"A button value must be a text of at most {MAX_BUTTON_LABEL} characters.")
        text_check(label, field="buttons.label")
        text_check(value, field="buttons.value")
        cleaned.append({"label": label, "value": value})
    return cleaned


def message_send(
    *,
    conversation_id: int,
    sender_kind: str,
    sender_user_id: int | None = None,
    text: str = "",
    client_id: str | None = None,
    attachment_ids: Sequence[int] = (),
    private: bool = False,
    platform_message_id: str | None = None,
    sent_at: datetime | None = None,
    buttons: Sequence[dict[str, str]] = (),
) -> tuple[dict[str, Any], bool]:
    """Store a message with the conversation's next seq and publish it after commit.

    `buttons` ([{"label", "value"}], bot messages only) travel in the payload for clients that show
    them (the widget); platforms get the text alone, so a bot sends numbered options there instead.
    A bot or system message is accepted on a conversation closed within IM_REOPEN_WINDOW_S and leaves
    it closed (the satisfaction survey); anything else on a closed conversation is refused.

    Returns (message payload, created). Idempotent: the same client_id from the same sender in the same
    conversation (or the same platform message id in the same inbox) returns the first message and
    created=False. The seq comes from the conversation row, locked with SELECT ... FOR UPDATE for the
    length of this transaction, so concurrent senders get 1, 2, 3... with no gap and no duplicate.
    """
    if sender_kind not in SenderKind.values:
        raise SwitchError("invalid", f"Unknown sender kind {sender_kind!r}.")
    if sender_kind == SenderKind.AGENT and not sender_user_id:
        raise SwitchError("invalid", "An agent message needs its sender.")
    if private and sender_kind == SenderKind.CUSTOMER:
        raise SwitchError("forbidden", "Customers cannot write internal notes.")
    ids = _validate_message_input(text=text, attachment_ids=attachment_ids, client_id=client_id)
    button_list = _validate_buttons(buttons, sender_kind=sender_kind, private=private)
    sender_key = sender_key_for(sender_kind=sender_kind, sender_user_id=sender_user_id)

    def _existing() -> Message | None:
        if client_id:
            found = selectors.message_by_client_id(
                conversation_id=conversation_id, sender_key=sender_key, client_id=client_id
            )
            if found:
                return found
        if platform_message_id:
            inbox_id = Conversation.objects.filter(pk=conversation_id).values_list("inbox_id", flat=True).first()
            return selectors.message_by_platform_id(inbox_id=inbox_id, platform_message_id=platform_message_id)
        return None

    try:
        with transaction.atomic():
            conversation = _lock(conversation_id)
            # Checked under the lock, so a concurrent retry of the same client_id has committed by now.
            found = _existing()
            if found is not None:
                return selectors.message_payload(found), False
            if conversation.status == S.CLOSED and not _closed_accepts(conversation, sender_kind, text, ids):
                raise SwitchError("conversation_closed", "The conversation is closed.")
            return _message_insert(
                conversation=conversation,
                sender_kind=sender_kind,
                sender_user_id=sender_user_id,
                sender_key=sender_key,
                text=text,
                client_id=client_id,
                attachment_ids=ids,
                private=private,
                platform_message_id=platform_message_id,
                sent_at=sent_at,
                buttons=button_list,
            ), True
    except IntegrityError:
        # Only a unique key can clash here (client_id or platform id from another conversation row lock
        # path); the first message wins.
        found = _existing()
        if found is None:
            raise
        return selectors.message_payload(found), False


def _closed_accepts(
    conversation: Conversation, sender_kind: str, text: str = "", attachment_ids: Sequence = ()
) -> bool:
    """A bot or system message may follow a close within the reopen window (the satisfaction survey,
    a goodbye) without reopening, and so may the customer's answer to the bot's question there (the
    rating, the comment). Agents never write into a closed conversation; any other customer message
    reopens it through customer_message_send."""
    if conversation.closed_at is None or conversation.closed_at < _reopen_window_start():
        return False
    if sender_kind in (SenderKind.BOT, SenderKind.SYSTEM):
        return True
    return (
        sender_kind == SenderKind.CUSTOMER
        and not attachment_ids
        and bot_takes_closed_reply(conversation_id=conversation.pk, text=text)
    )


def _uploader_of(conversation: Conversation, sender_kind: str, sender_user_id: int | None, platform: bool):
    """Who uploaded a message's files, as the media app names uploaders (docs/imsubsystem.md)."""
    if platform:
        return "platform", str(conversation.inbox_id)
    if sender_kind == SenderKind.CUSTOMER:
        return "customer", str(conversation.contact_id)
    if sender_kind == SenderKind.AGENT:
        return "agent", str(sender_user_id)
    return "bot", "bot"


def _attachments_attach(
    conversation: Conversation, ids: list[int], sender_kind: str, sender_user_id: int | None, platform: bool
) -> None:
    from django.core.exceptions import ValidationError

    from media.services import attachment_attach

    uploader_kind, uploader_id = _uploader_of(conversation, sender_kind, sender_user_id, platform)
    try:
        attachment_attach(
            attachment_ids=ids, conversation_id=conversation.pk, uploader_kind=uploader_kind, uploader_id=uploader_id
        )
    except ValidationError as exc:
        raise SwitchError("unknown_attachment", " ".join(exc.messages)) from exc


def _message_insert(
    *,
    conversation: Conversation,
    sender_kind: str,
    sender_user_id: int | None,
    sender_key: str,
    text: str,
    client_id: str | None,
    attachment_ids: list[int],
    private: bool,
    platform_message_id: str | None,
    sent_at: datetime | None,
    buttons: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    if attachment_ids:
        _attachments_attach(conversation, attachment_ids, sender_kind, sender_user_id, bool(platform_message_id))
    now = timezone.now()
    conversation.last_seq += 1
    conversation.last_message_at = now
    update_fields = ["last_seq", "last_message_at"]
    if sender_kind == SenderKind.AGENT and not private and conversation.first_agent_reply_at is None:
        conversation.first_agent_reply_at = now
        update_fields.append("first_agent_reply_at")
    outbound = sender_kind != SenderKind.CUSTOMER and not private and conversation.inbox.kind != "web"
    message = Message.objects.create(
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        seq=conversation.last_seq,
        sender_kind=sender_kind,
        sender_user_id=sender_user_id,
        sender_key=sender_key,
        client_id=client_id,
        text=text,
        attachments=attachment_ids,
        buttons=buttons or [],
        private=private,
        platform_message_id=platform_message_id,
        delivery_status=DeliveryStatus.PENDING if outbound else DeliveryStatus.STORED,
        created_at=now,
        sent_at=sent_at,
    )
    conversation.save(update_fields=update_fields)
    message.conversation = conversation
    return _message_announce(message=message, conversation=conversation, inbox=conversation.inbox)


def _message_announce(
    *,
    message: Message,
    conversation: Conversation,
    inbox: Inbox,
    sender_name: str | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """What follows every stored message, inside its transaction: the message_stored signal (the
    gateway's outbox row commits with the message), and on commit the message.new frame, the bot
    handlers and the counters. Returns the message payload."""
    message_stored.send(
        sender=Message,
        message_id=message.pk,
        conversation_id=conversation.pk,
        inbox_id=conversation.inbox_id,
        inbox_kind=inbox.kind,
        sender_kind=message.sender_kind,
        private=message.private,
    )
    payload = selectors.message_payload(message, sender_name=sender_name)
    event_publish_on_commit(
        group=group_conversation(conversation.pk),
        frame={"type": "message.new", "message": payload},
        hide_from_customer=message.private,
        origin=origin,  # the sending socket has the message from its message.ack
    )
    transaction.on_commit(partial(MESSAGES_IN.labels(sender_kind=message.sender_kind, channel=inbox.kind).inc))
    if bot_handlers():
        bot_event = {
            "message": payload,
            "conversation": {
                "id": conversation.pk,
                "status": conversation.status,
                "inbox_id": conversation.inbox_id,
                "inbox_key": inbox.key,
                "inbox_kind": inbox.kind,
                "contact_id": conversation.contact_id,
                "queue_id": conversation.queue_id,
                "assignee_id": conversation.assignee_id,
            },
        }
        transaction.on_commit(partial(_bot_notify, bot_event), robust=True)
    return payload


def customer_message_send(
    *,
    inbox_id: int,
    contact_id: int,
    text: str = "",
    client_id: str | None = None,
    attachment_ids: Sequence[int] = (),
    private: Any = False,
) -> tuple[dict[str, Any], bool]:
    """A customer writes (widget or API): find, reopen or open the conversation, then message_send.

    Idempotent across conversations too: a retried client_id returns the first message even if that
    conversation has been closed and a new one opened since. `private` is what the client asked for:
    customers never write internal notes, so anything but false is refused with `forbidden`.
    """
    _customer_private_refuse(private)
    _validate_message_input(text=text, attachment_ids=attachment_ids, client_id=client_id)
    if client_id:
        earlier = selectors.message_by_client_id(
            inbox_id=inbox_id, contact_id=contact_id, sender_key=SenderKind.CUSTOMER, client_id=client_id
        )
        if earlier is not None:
            return selectors.message_payload(earlier), False
    for _attempt in range(2):
        conversation_id = (
            None
            if attachment_ids
            else _closed_conversation_answered(inbox_id=inbox_id, contact_id=contact_id, text=text)
        ) or conversation_for_customer(inbox_id=inbox_id, contact_id=contact_id)
        try:
            return message_send(
                conversation_id=conversation_id,
                sender_kind=SenderKind.CUSTOMER,
                text=text,
                client_id=client_id,
                attachment_ids=attachment_ids,
            )
        except SwitchError as exc:
            # Closed between finding it and writing to it: the second turn opens or reopens.
            if exc.code != "conversation_closed":
                raise
    raise SwitchError("conversation_closed", "The conversation closed while the message was being stored.")


def _messages_insert(messages: Sequence[Message]) -> None:
    """bulk_create for a batch of new messages as one multi-row INSERT, with the values prepared by each
    field as Django would, without the per-value compiler work (the largest Python cost of a batch).
    Sets the primary keys where the database returns them (MariaDB 10.5+, SQLite 3.35+, PostgreSQL)."""
    db = connections[DEFAULT_DB_ALIAS]  # resolved once: the proxy looks it up on every attribute
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    table = db.ops.quote_name(Message._meta.db_table)
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join("%s" for _ in fields) + ")"
    params: list[Any] = []
    for message in messages:
        params += [f.get_db_prep_save(f.pre_save(message, add=True), db) for f in fields]
    returning = db.features.can_return_rows_from_bulk_insert
    sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join(row for _ in messages)}"  # noqa: S608 - names from the model
    if returning:
        sql += f" RETURNING {db.ops.quote_name(Message._meta.pk.column)}"
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            for message, (value,) in zip(messages, cursor.fetchall(), strict=True):
                message.pk = value
    for message in messages:
        message._state.adding = False
        message._state.db = db.alias


def _conversations_seq_update(conversations: Sequence[Conversation], *, last_message_at: datetime) -> None:
    """One UPDATE for the new last_seq of many locked conversations (bulk_update's CASE expressions,
    built through the ORM, cost more Python than the rest of a batch)."""
    table = connection.ops.quote_name(Conversation._meta.db_table)
    cases = " ".join("WHEN %s THEN %s" for _ in conversations)
    marks = ", ".join("%s" for _ in conversations)
    params: list[Any] = []
    for conversation in conversations:
        params += [conversation.pk, conversation.last_seq]
    params.append(Conversation._meta.get_field("last_message_at").get_db_prep_save(last_message_at, connection))
    params += [conversation.pk for conversation in conversations]
    with connection.cursor() as cursor:
        # The table name comes from the model; every value is a parameter.
        sql = f"UPDATE {table} SET last_seq = CASE id {cases} END, last_message_at = %s WHERE id IN ({marks})"  # noqa: S608
        cursor.execute(sql, params)


def _customer_private_refuse(private: Any) -> None:
    if private not in (False, None):
        raise SwitchError("forbidden", "Customers cannot write internal notes.")


def customer_messages_send_many(*, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Text messages of many customers, each into the open conversation its socket is in, stored in
    one transaction (the widget sockets of a process hand them over together: imsubsystem/batching.py).

    A request is {"inbox_id", "contact_id", "conversation_id", "text", "client_id", "origin"?}; origin,
    the sending socket's channel name, gets no message.new of its own message (its ack carries it). Each result is
    {"message": payload, "created": bool}, {"error": code, "detail": str}, or {"fallback": True} when
    the conversation is no longer the customer's open one (closed, or never theirs): the caller then
    uses customer_message_send, which reopens or opens one. The guarantees are message_send's: seq from
    the locked conversation rows, one row per client_id (a retry, even within the same batch, returns
    the first message), the message_stored signal inside the transaction, frames after commit.
    """
    results: list[dict[str, Any] | None] = [None] * len(requests)
    valid: list[int] = []
    for n, request in enumerate(requests):
        try:
            _customer_private_refuse(request.get("private", False))
            if request.get("attachment_ids"):
                raise SwitchError("invalid", "Messages with attachments go through customer_message_send.")
            _validate_message_input(text=request["text"], attachment_ids=(), client_id=request["client_id"])
        except SwitchError as exc:
            results[n] = {"error": exc.code, "detail": exc.detail}
            continue
        valid.append(n)
    if not valid:
        return results  # type: ignore[return-value]
    conversation_ids = sorted({requests[n]["conversation_id"] for n in valid})
    contact_ids = {requests[n]["contact_id"] for n in valid}
    with transaction.atomic():
        # Locked in id order, so two processes' batches never wait on each other in a cycle.
        conversations = {
            c.pk: c for c in Conversation.objects.select_for_update().filter(pk__in=conversation_ids).order_by("pk")
        }
        earlier = {
            (m.conversation.contact_id, m.conversation.inbox_id, m.client_id): m
            for m in Message.objects.select_related("conversation__contact").filter(
                conversation__contact_id__in=contact_ids,
                sender_key=SenderKind.CUSTOMER,
                client_id__in=[requests[n]["client_id"] for n in valid],
            )
        }
        now = timezone.now()
        created: list[tuple[int, Message]] = []
        first_of: dict[tuple, int] = {}
        for n in valid:
            request = requests[n]
            key = (request["contact_id"], request["inbox_id"], request["client_id"])
            if key in earlier:
                results[n] = {"message": selectors.message_payload(earlier[key]), "created": False}
                continue
            if key in first_of:  # the same client_id twice in one batch: a retry
                continue
            conversation = conversations.get(request["conversation_id"])
            if (
                conversation is None
                or conversation.contact_id != request["contact_id"]
                or conversation.inbox_id != request["inbox_id"]
                or conversation.status == S.CLOSED
            ):
                results[n] = {"fallback": True}
                continue
            conversation.last_seq += 1
            conversation.last_message_at = now
            first_of[key] = n
            created.append(
                (
                    n,
                    Message(
                        conversation=conversation,
                        inbox_id=conversation.inbox_id,
                        seq=conversation.last_seq,
                        sender_kind=SenderKind.CUSTOMER,
                        sender_key=SenderKind.CUSTOMER,
                        client_id=request["client_id"],
                        text=request["text"],
                        attachments=[],
                        delivery_status=DeliveryStatus.STORED,
                        created_at=now,
                    ),
                )
            )
        if created:
            messages = [message for _, message in created]
            _messages_insert(messages)
            if messages[0].pk is None:  # a database without INSERT ... RETURNING (MySQL 8): read them back
                ids = {
                    (conversation_id, seq): pk
                    for pk, conversation_id, seq in Message.objects.filter(
                        conversation_id__in=conversation_ids, seq__in={m.seq for m in messages}
                    ).values_list("pk", "conversation_id", "seq")
                }
                for message in messages:
                    message.pk = ids[(message.conversation_id, message.seq)]
            touched = {message.conversation_id: message.conversation for message in messages}
            _conversations_seq_update(list(touched.values()), last_message_at=now)
            inboxes = {i.pk: i for i in Inbox.objects.filter(pk__in={c.inbox_id for c in touched.values()})}
            names = {
                c.pk: c.display_name
                for c in Contact.objects.filter(pk__in={c.contact_id for c in touched.values()}).only(
                    "name", "emails", "phones"
                )
            }
            for n, message in created:
                conversation = message.conversation
                payload = _message_announce(
                    message=message,
                    conversation=conversation,
                    inbox=inboxes[conversation.inbox_id],
                    sender_name=names.get(conversation.contact_id, ""),
                    origin=requests[n].get("origin"),
                )
                results[n] = {"message": payload, "created": True}
        for n in valid:
            if results[n] is None:  # the repeat of a client_id first sent in this batch
                request = requests[n]
                first = results[first_of[(request["contact_id"], request["inbox_id"], request["client_id"])]]
                results[n] = {"message": first["message"], "created": False}
    return results  # type: ignore[return-value]


def inbound_message_receive(
    *,
    inbox_id: int,
    contact_id: int,
    text: str,
    platform_message_id: str,
    sent_at: datetime | None,
    attachment_ids: Sequence[int] = (),
) -> tuple[dict[str, Any], bool]:
    """A message from an IM platform (the gateway calls this from its Celery task).

    Idempotent on (inbox, platform_message_id): a redelivered webhook returns the stored message with
    created=False. Finds, reopens or opens the contact's conversation in the inbox.
    """
    if not platform_message_id:
        raise SwitchError("invalid", "platform_message_id is required.")
    platform_message_id = str(platform_message_id)[:191]
    earlier = selectors.message_by_platform_id(inbox_id=inbox_id, platform_message_id=platform_message_id)
    if earlier is not None:
        return selectors.message_payload(earlier), False
    text = text or ""
    limit = getattr(settings, "IM_MAX_TEXT_LENGTH", 4000)
    if len(text) > limit:
        # A platform allows longer texts than the widget; keep the message rather than lose it.
        text = text[: limit - 1] + "…"
    for _attempt in range(2):
        conversation_id = (
            None
            if attachment_ids
            else _closed_conversation_answered(inbox_id=inbox_id, contact_id=contact_id, text=text)
        ) or conversation_for_customer(inbox_id=inbox_id, contact_id=contact_id)
        try:
            return message_send(
                conversation_id=conversation_id,
                sender_kind=SenderKind.CUSTOMER,
                text=text,
                attachment_ids=attachment_ids,
                platform_message_id=platform_message_id,
                sent_at=sent_at,
            )
        except SwitchError as exc:
            if exc.code != "conversation_closed":
                raise
        except IntegrityError:
            earlier = selectors.message_by_platform_id(inbox_id=inbox_id, platform_message_id=platform_message_id)
            if earlier is None:
                raise
            return selectors.message_payload(earlier), False
    raise SwitchError("conversation_closed", "The conversation closed while the message was being stored.")


def message_delivery_update(*, message_id: int, status: str, error: str = "", retry_at: datetime | None = None) -> None:
    """The gateway reports what the platform did with an outgoing message (`retrying` with the reason and
    when the next attempt is due); publishes message.status."""
    if status not in DeliveryStatus.values:
        raise SwitchError("invalid", f"Unknown delivery status {status!r}.")
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise SwitchError("not_found", f"No message {message_id}.")
        message.delivery_status = status
        message.delivery_error = error[:2000]
        message.delivery_retry_at = retry_at if status == DeliveryStatus.RETRYING else None
        message.save(update_fields=["delivery_status", "delivery_error", "delivery_retry_at"])
        event_publish_on_commit(
            group=group_conversation(message.conversation_id),
            frame={
                "type": "message.status",
                "conversation_id": message.conversation_id,
                "message_id": message.pk,
                "seq": message.seq,
                "status": status,
                "error": message.delivery_error,
                "retry_at": message.delivery_retry_at.isoformat() if message.delivery_retry_at else None,
            },
            hide_from_customer=True,
        )


# --- Status moves driven by routing (imsubsystem/routing_hooks.py) ---------------------------------------
def conversation_mark_offered(
    *, conversation_id: int, offer_id: str, agent_id: int, expires_at: datetime, queue_id: int | None = None
) -> bool:
    """Routing offered the conversation to an agent (of `queue_id`, which may be a new queue after an
    overflow or a transfer): status offered, `offer` to the agent's sockets.

    Returns False (and changes nothing) when the conversation can no longer be offered (closed meanwhile).
    """
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if not status_move_allowed(current=conversation.status, new=S.OFFERED):
            return False
        moved = conversation.status != S.OFFERED
        fields = ["status", *_wait_clock_move(conversation, S.OFFERED, timezone.now())]
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
            },
        )
        if moved:
            _publish_status(conversation)
    return True


def offer_closed_publish(*, offer_id: str, conversation_id: int, agent_id: int, reason: str) -> None:
    event_publish_on_commit(
        group=group_agent(agent_id),
        frame={"type": "offer.closed", "offer_id": str(offer_id), "conversation_id": conversation_id, "reason": reason},
    )


def conversation_assign(*, conversation_id: int, agent_id: int, queue_id: int | None = None) -> bool:
    """Routing gave the conversation to an agent (offer accepted, pick, transfer, direct assignment)."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if not status_move_allowed(current=conversation.status, new=S.ASSIGNED):
            return False
        previous = conversation.assignee_id
        if conversation.status == S.ASSIGNED and previous == agent_id:
            return True
        now = timezone.now()
        clock = _wait_clock_move(conversation, S.ASSIGNED, now)
        conversation.status = S.ASSIGNED
        conversation.assignee_id = agent_id
        if queue_id:
            conversation.queue_id = queue_id
        conversation.assigned_at = conversation.assigned_at or now
        conversation.save(update_fields=["status", "assignee", "queue", "assigned_at", *clock])
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
        _publish_status(conversation)
    return True


def conversation_requeued(*, conversation_id: int, queue_id: int) -> bool:
    """Routing put the conversation (back) in a queue: after a reject or expiry, a transfer, an overflow."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        # Only a conversation routing still holds goes back to a queue; a closed one reopens through
        # conversation_queue when the customer writes, never through a late signal.
        if conversation.status not in (S.QUEUED, S.OFFERED, S.ASSIGNED):
            return False
        previous = conversation.assignee_id
        now = timezone.now()
        # Back from an agent (a transfer) starts a leg; after an offer expired, was rejected or withdrawn,
        # or an overflow, the customer is still waiting and the clock runs on.
        clock = _wait_clock_move(conversation, S.QUEUED, now)
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
        _publish_status(
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
    _routing_call("offer_accept" if accept else "offer_reject", offer_id=str(offer_id), agent_id=agent_id)


def conversation_pick(*, conversation_id: int, agent_id: int) -> None:
    """Manual pick from a queue list; routing checks the agent's queues and capacity."""
    conversation = Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True).first()
    if conversation is None:
        raise SwitchError("not_found", f"No conversation {conversation_id}.")
    if conversation not in (S.QUEUED, S.OFFERED):
        raise SwitchError("not_waiting", "The conversation is not waiting in a queue.")
    _routing_call("work_pick", ref=conversation_id, agent_id=agent_id)


def agent_presence_set(*, agent_id: int, status: str) -> None:
    if status not in ("available", "away", "offline"):
        raise SwitchError("invalid", "status must be available, away or offline.")
    _routing_call("agent_presence_set", agent_id=agent_id, status=status)


def agent_console_open(*, agent_id: int, console: str) -> None:
    """An agent console socket is live (connect, then every heartbeat): routing counts the agent connected."""
    _routing_call("agent_console_open", agent_id=agent_id, console=console)


def agent_console_close(*, agent_id: int, console: str) -> int:
    """An agent console socket closed; returns how many of the agent's consoles are still live."""
    return _routing_call("agent_console_close", agent_id=agent_id, console=console)


def agent_consoles_sweep() -> list[int]:
    """Count disconnected the agents whose last console went away longer than the grace ago."""
    return _routing_call("agent_consoles_sweep")


def conversation_transfer(
    *, conversation_id: int, by_user_id: int, queue_id: int | None = None, agent_id: int | None = None
) -> None:
    """Move a conversation to another queue or agent. Routing decides; its signals move the status.

    A private system note records who moved it where, so the history explains the change.
    """
    if (queue_id is None) == (agent_id is None):
        raise SwitchError("invalid", "Give exactly one of queue_id or agent_id.")
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.status == S.CLOSED:
            raise SwitchError("conversation_closed", "A closed conversation cannot be transferred.")
        if conversation.status == S.BOT:
            if queue_id is None:
                raise SwitchError("illegal_transition", "Hand a bot conversation to a queue first.")
            conversation_queue(conversation_id=conversation.pk, queue_id=queue_id)
        else:
            _routing_call("work_transfer", ref=conversation.pk, queue_id=queue_id, agent_id=agent_id)
            if queue_id is not None and conversation.status in WAITING:
                # A waiting conversation moved to another queue starts a leg there; the customer's wait
                # runs on (one that an agent held starts its leg when routing hands it back).
                conversation.queued_at = timezone.now()
                conversation.save(update_fields=["queued_at"])
        by = selectors.user_display_name(selectors.user_get(user_id=by_user_id))
        if queue_id is not None:
            from routing.models import Queue

            target = Queue.objects.filter(pk=queue_id).values_list("name", flat=True).first() or f"queue {queue_id}"
        else:
            target = selectors.user_display_name(selectors.user_get(user_id=agent_id))
        _message_insert(
            conversation=conversation,
            sender_kind=SenderKind.SYSTEM,
            sender_user_id=None,
            sender_key=SenderKind.SYSTEM,
            text=f"Transferred to {target} by {by}.",
            client_id=None,
            attachment_ids=[],
            private=True,
            platform_message_id=None,
            sent_at=None,
        )


def conversation_close(*, conversation_id: int, by_user_id: int | None = None, wrap_up: str = "") -> None:
    """Close with an optional wrap-up note; routing frees the agent (work_complete) or drops the waiting
    item (work_cancel). Closing a closed conversation is refused."""
    if not isinstance(wrap_up, str) or len(wrap_up) > 10000:
        raise SwitchError("invalid", "wrap_up must be a text of at most 10,000 characters.")
    text_check(wrap_up, field="wrap_up")
    with transaction.atomic():
        conversation = _lock(conversation_id)
        previous = conversation.status
        _status_move(conversation, S.CLOSED)
        conversation.closed_at = timezone.now()
        conversation.open_slot = None
        if wrap_up.strip():
            conversation.wrap_up = wrap_up.strip()
        conversation.save(update_fields=["status", "closed_at", "open_slot", "wrap_up"])
        _publish_status(conversation)  # before routing's on-commit work, as in conversation_queue
        if previous == S.ASSIGNED:
            _routing_call("work_complete", ref=conversation.pk)
        elif previous in (S.QUEUED, S.OFFERED):
            _routing_call("work_cancel", ref=conversation.pk, reason="closed")


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


async def typing_publish(
    *, conversation_id: int, sender: dict[str, Any], active: bool, origin: str | None = None
) -> None:
    """Typing is never stored and touches no database: the socket awaits this directly (no thread hop),
    one frame to the conversation's group, skipping the typing socket itself."""
    layer = switch_layer()
    frame = {"type": "typing", "conversation_id": conversation_id, "active": bool(active), "sender": sender}
    group = group_conversation(conversation_id)
    try:
        await layer.group_send(
            group, {"type": "sb.event", "frame": frame, "hide_from_customer": False, "origin": origin, "group": group}
        )
    except Exception:
        logger.exception("Publishing typing to conversation %s failed", conversation_id)


# --- Widget sessions ----------------------------------------------------------------------------------------
def widget_sessions_revoke(
    *, session_ids: Sequence[int] | None = None, contact_ids: Sequence[int] | None = None, reason: str = "revoked"
) -> int:
    """Revoke widget sessions (by id, or every session of some contacts): their tokens are refused on
    HTTP and socket from now on, and once the transaction commits each open socket of theirs gets
    `error auth_failed` (reason "revoked") and is closed with 4401, so the widget starts a new session.
    Returns how many were revoked."""
    from imsubsystem.models import WidgetSession

    if session_ids is None and contact_ids is None:
        raise TypeError("Give session_ids or contact_ids.")
    sessions = WidgetSession.objects.filter(revoked_at__isnull=True)
    if session_ids is not None:
        sessions = sessions.filter(pk__in=list(session_ids))
    if contact_ids is not None:
        sessions = sessions.filter(contact_id__in=list(contact_ids))
    ids = list(sessions.values_list("pk", flat=True))
    if not ids:
        return 0
    WidgetSession.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
    frame = error_frame("auth_failed", reason=reason)
    for session_id in ids:
        event_publish_on_commit(group=group_widget_session(session_id), frame=frame)
    return len(ids)


# --- CRM ----------------------------------------------------------------------------------------------------
def conversations_move_contact(*, source_id: int, target_id: int) -> dict[str, int]:
    """Contact merge: the source's conversations move to the target. Where both have an open
    conversation in the same inbox, the source's one is closed (one open per inbox).

    Widget sessions never follow a merge: the sessions of both contacts are revoked (their sockets
    closed). A merge joins two people's histories on a supervisor's judgement, often on an e-mail address
    a visitor typed; no visitor's session may read the other person's conversations because of it. The
    widget starts a new session on its own."""
    closed = 0
    for conversation in Conversation.objects.filter(contact_id=source_id, status__in=OPEN_STATUSES):
        target_slot = _open_slot(conversation.inbox_id, target_id)
        if Conversation.objects.filter(open_slot=target_slot).exists():
            conversation_close(conversation_id=conversation.pk, wrap_up="Closed by a contact merge.")
            closed += 1
        else:
            Conversation.objects.filter(pk=conversation.pk).update(open_slot=target_slot)
    revoked = widget_sessions_revoke(contact_ids=[source_id, target_id], reason="revoked")
    moved = Conversation.objects.filter(contact_id=source_id).update(contact_id=target_id)
    # The revoked sessions stay on record with the contact that remains (the source is deleted).
    from imsubsystem.models import WidgetSession

    WidgetSession.objects.filter(contact_id=source_id).update(contact_id=target_id)
    return {"conversations": moved, "conversations_closed": closed, "widget_sessions_revoked": revoked}
