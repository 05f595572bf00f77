"""Messages: the one write path. (Over 400 lines: the steps below refer to each other and read as one.)

Every message (a customer's from the widget, one or a batch of many sockets' messages at once; an
agent's; a bot's; a system note; a platform's) is stored by `messages_store`, and a single send is a
batch of one. In one transaction it:

1. locks the conversation rows in id order (two batches never wait on each other in a cycle);
2. runs the one duplicate check (`_earlier`, under the locks): a customer's `client_id` is unique across
   that customer's conversations in the inbox (a retry finds its first message even after that
   conversation closed and another opened), anyone else's within the conversation, a platform's message
   id within the inbox; a repeat inside the same batch is a retry of the first;
3. checks each draft against its conversation (closed, not the customer's) and binds its attachments in
   a savepoint of its own, so one draft's refusal never fails the others;
4. takes each conversation's next seq, inserts every new message with one multi-row INSERT (its values
   straight from the draft, no model instance), their search tokens with another (docs/imsubsystem.md,
   "Search") and the new seqs with one UPDATE;
5. announces each message: the `message_stored` hook inside the transaction (the gateway's outbox row
   commits with the message), then once for the batch `message_batch_stored` (the outgoing webhooks'
   outbox rows, one insert), the notifications of the colleagues an internal note @mentions
   (services/notifications.py), and after commit the `message.new` frame, the counters and the
   `message_committed` hook (the bots).

A result is {"message": payload, "created": bool}, {"error": code, "detail": str}, or {"fallback": True}
for a batch draft whose conversation is no longer the customer's open one (the caller then opens or
reopens one: services/customers.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.metrics import MESSAGES_IN
from imsubsystem import selectors
from imsubsystem.events import group_conversation
from imsubsystem.hooks import (
    ClosedReply,
    MessageBatchStored,
    MessageCommitted,
    MessageStored,
    closed_reply_taken,
    message_batch_stored,
    message_committed,
)
from imsubsystem.hooks import message_stored as message_stored_hook
from imsubsystem.models import Conversation, DeliveryStatus, Message, SenderKind
from imsubsystem.services.drafts import Draft, draft_check
from imsubsystem.services.notifications import mentions_record, mentions_refusal
from imsubsystem.services.publish import events_send, sb_event
from imsubsystem.services.rows import (
    InboxRow,
    LockedConversation,
    NewMessage,
    conversations_lock,
    conversations_seq_update,
    inboxes_read,
    message_keys_read,
    message_tokens_insert,
    messages_insert,
    sender_names,
)
from imsubsystem.services.state import S, SwitchError, reopen_window_start
from media.services import attachment_attach

logger = logging.getLogger(__name__)


# --- The one duplicate check ----------------------------------------------------------------------------
def _keys(draft: Draft, inbox_id: int | None) -> list[tuple]:
    """What makes a draft a repeat of a stored message (see the module's doc)."""
    keys: list[tuple] = []
    if draft.client_id:
        if draft.customer is not None:
            keys.append(("customer", draft.customer[0], draft.customer[1], draft.client_id))
        else:
            keys.append(("sender", draft.conversation_id, draft.sender_key, draft.client_id))
    if draft.platform_message_id:
        keys.append(("platform", inbox_id, draft.platform_message_id))
    return keys


def _row_keys(
    conversation_id: int,
    sender_key: str,
    client_id: str | None,
    inbox_id: int,
    platform_message_id: str | None,
    contact_id: int,
) -> list[tuple]:
    """The keys a stored message answers to (the drafts' `_keys`)."""
    keys: list[tuple] = []
    if client_id:
        keys.append(("sender", conversation_id, sender_key, client_id))
        if sender_key == SenderKind.CUSTOMER:
            keys.append(("customer", inbox_id, contact_id, client_id))
    if platform_message_id:
        keys.append(("platform", inbox_id, platform_message_id))
    return keys


def _earlier(drafts: Sequence[Draft], inboxes_of: dict[int, int]) -> dict[tuple, Message]:
    """The stored messages these drafts repeat, by key: one query for the whole batch."""
    customers = [d for d in drafts if d.client_id and d.customer is not None]
    others = [d for d in drafts if d.client_id and d.customer is None]
    platform = [d for d in drafts if d.platform_message_id]
    if not (customers or others or platform):
        return {}
    # Ids and keys first (a repeat is rare); the messages themselves only for what matched.
    keyed: dict[tuple, int] = {}
    rows = message_keys_read(
        customer=({d.client_id for d in customers}, {d.customer[1] for d in customers}) if customers else None,
        sender=(
            ({d.conversation_id for d in others}, {d.sender_key for d in others}, {d.client_id for d in others})
            if others
            else None
        ),
        platform=(
            ({inboxes_of.get(d.conversation_id) for d in platform}, {d.platform_message_id for d in platform})
            if platform
            else None
        ),
    )
    for pk, *values in rows:
        for key in _row_keys(*values):
            keyed.setdefault(key, pk)
    if not keyed:
        return {}
    messages = Message.objects.select_related("conversation__contact", "sender_user").in_bulk(set(keyed.values()))
    return {key: messages[pk] for key, pk in keyed.items()}


def message_earlier(draft: Draft) -> dict[str, Any] | None:
    """The payload of the stored message this draft repeats, if any (read before a conversation is
    chosen: a customer's retry must not open or reopen one)."""
    inbox_id = draft.customer[0] if draft.customer else None
    earlier = _earlier([draft], {draft.conversation_id: inbox_id} if inbox_id else {})
    for key in _keys(draft, inbox_id):
        if key in earlier:
            return selectors.message_payload(earlier[key])
    return None


# --- Storing --------------------------------------------------------------------------------------------
def _closed_accepts(conversation: LockedConversation, draft: Draft) -> bool:
    """A bot or system message may follow a close within the reopen window (the satisfaction survey,
    a goodbye) without reopening, and so may the customer's answer to the bot's question there (the
    rating, the comment). Agents never write into a closed conversation; any other customer message
    reopens it (services/customers.py)."""
    if conversation.closed_at is None or conversation.closed_at < reopen_window_start():
        return False
    if draft.sender_kind in (SenderKind.BOT, SenderKind.SYSTEM):
        return True
    return (
        draft.sender_kind == SenderKind.CUSTOMER
        and not draft.attachment_ids
        and bool(closed_reply_taken.ask(ClosedReply(conversation_id=conversation.pk, text=draft.text), False))
    )


def _uploader_of(conversation: LockedConversation, draft: Draft) -> tuple[str, str]:
    """Who uploaded a message's files, as the media app names uploaders (docs/imsubsystem.md)."""
    if draft.platform_message_id:
        return "platform", str(conversation.inbox_id)
    if draft.sender_kind == SenderKind.CUSTOMER:
        return "customer", str(conversation.contact_id)
    if draft.sender_kind == SenderKind.AGENT:
        return "agent", str(draft.sender_user_id)
    return "bot", "bot"


def _refusal(conversation: LockedConversation | None, draft: Draft) -> dict[str, Any] | None:
    if draft.fallback and (
        conversation is None
        or (conversation.inbox_id, conversation.contact_id) != draft.customer
        or conversation.status == S.CLOSED
    ):
        return {"fallback": True}
    if conversation is None:
        return {"error": "not_found", "detail": f"No conversation {draft.conversation_id}."}
    if conversation.status == S.CLOSED and not _closed_accepts(conversation, draft):
        return {"error": "conversation_closed", "detail": "The conversation is closed."}
    return None


def _attach(conversation: LockedConversation, draft: Draft) -> dict[str, Any] | None:
    """Bind the draft's files to the conversation, in a savepoint: a refusal undoes only this draft's."""
    uploader_kind, uploader_id = _uploader_of(conversation, draft)
    try:
        with transaction.atomic():
            attachment_attach(
                attachment_ids=draft.attachment_ids,
                conversation_id=conversation.pk,
                uploader_kind=uploader_kind,
                uploader_id=uploader_id,
            )
    except ValidationError as exc:
        return {"error": "unknown_attachment", "detail": " ".join(exc.messages)}
    return None


def messages_store(drafts: Sequence[Draft]) -> list[dict[str, Any]]:
    """Store checked drafts (draft_check) as the module's doc says; one result per draft, in order."""
    try:
        return _store(drafts)
    except IntegrityError:
        # A unique key taken by a transaction that held no lock of ours (the same platform id or a
        # customer's client_id in another conversation): each draft alone, the first message wins.
        if len(drafts) > 1:
            return [messages_store([draft])[0] for draft in drafts]
        draft = drafts[0]
        inbox_id = Conversation.objects.filter(pk=draft.conversation_id).values_list("inbox_id", flat=True).first()
        earlier = _earlier(drafts, {draft.conversation_id: inbox_id})
        for key in _keys(draft, inbox_id):
            if key in earlier:
                return [{"message": selectors.message_payload(earlier[key]), "created": False}]
        raise


def _store(drafts: Sequence[Draft]) -> list[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(drafts)
    repeats: dict[int, int] = {}  # a draft repeating an earlier draft of this batch -> that draft
    with transaction.atomic():
        conversations = conversations_lock(d.conversation_id for d in drafts)
        inboxes_of = {pk: c.inbox_id for pk, c in conversations.items()}
        inboxes = inboxes_read(inboxes_of.values())
        # Checked under the locks, so a concurrent retry of the same client_id has committed by now.
        earlier = _earlier(drafts, inboxes_of)
        now = timezone.now()
        first_of: dict[tuple, int] = {}
        new: list[tuple[int, NewMessage]] = []
        replied: set[int] = set()
        for n, draft in enumerate(drafts):
            keys = _keys(draft, inboxes_of.get(draft.conversation_id))
            stored = next((earlier[k] for k in keys if k in earlier), None)
            if stored is not None:
                results[n] = {"message": selectors.message_payload(stored), "created": False}
                continue
            first = next((first_of[k] for k in keys if k in first_of), None)
            if first is not None:
                repeats[n] = first
                continue
            conversation = conversations.get(draft.conversation_id)
            refused = (
                _refusal(conversation, draft)
                or (mentions_refusal(draft) if draft.mentions else None)
                or (_attach(conversation, draft) if draft.attachment_ids else None)
            )
            if refused is not None:
                results[n] = refused
                continue
            for key in keys:
                first_of[key] = n
            new.append((n, _message_new(conversation, inboxes[conversation.inbox_id], draft, now)))
            if (
                draft.sender_kind == SenderKind.AGENT
                and not draft.private
                and conversation.first_agent_reply_at is None
            ):
                conversation.first_agent_reply_at = now
                replied.add(conversation.pk)
        if new:
            messages = [message for _, message in new]
            messages_insert(messages)
            message_tokens_insert(messages)
            touched = sorted({m.conversation_id for m in messages})
            conversations_seq_update([conversations[pk] for pk in touched], last_message_at=now)
            if replied:
                Conversation.objects.filter(pk__in=replied).update(first_agent_reply_at=now)
            notes = [(message, drafts[n]) for n, message in new if drafts[n].mentions]
            if notes:
                mentions_record(notes=notes)
            names = sender_names(messages, {pk: c.contact_id for pk, c in conversations.items()})
            after = _AfterCommit()
            for n, message in new:
                results[n] = {
                    "message": _announce(
                        message=message,
                        conversation=conversations[message.conversation_id],
                        inbox=inboxes[message.inbox_id],
                        sender_name=names.get(message.pk),
                        origin=drafts[n].origin,
                        after=after,
                    ),
                    "created": True,
                }
            # After the hooks' own commit callbacks, as when each message registered its own after its hook.
            transaction.on_commit(after.run, robust=True)
            if message_batch_stored.subscribers:
                _batch_announce([results[n]["message"] for n, _ in new], conversations)
    for n, first in repeats.items():
        if results[first] and "message" in results[first]:
            results[n] = {"message": results[first]["message"], "created": False}
        else:
            results[n] = results[first]
    return results  # type: ignore[return-value]


def _batch_announce(payloads: list[dict[str, Any]], conversations: dict[int, LockedConversation]) -> None:
    """The batch's `message_batch_stored` (the module's doc, step 5): once, inside the transaction."""
    touched = {p["conversation_id"] for p in payloads}
    message_batch_stored.emit(
        MessageBatchStored(
            messages=tuple(payloads),
            conversations={
                pk: {
                    "inbox_id": c.inbox_id,
                    "contact_id": c.contact_id,
                    "queue_id": c.queue_id,
                    "assignee_id": c.assignee_id,
                    "status": c.status,
                }
                for pk, c in conversations.items()
                if pk in touched
            },
        )
    )


def _message_new(conversation: LockedConversation, inbox: InboxRow, draft: Draft, now: datetime) -> NewMessage:
    """The draft's row with the conversation's next seq (values, not a model instance: rows.NewMessage)."""
    conversation.last_seq += 1
    conversation.last_message_at = now
    outbound = draft.sender_kind != SenderKind.CUSTOMER and not draft.private and inbox.kind != "web"
    return NewMessage(
        conversation_id=conversation.pk,
        inbox_id=conversation.inbox_id,
        seq=conversation.last_seq,
        sender_kind=draft.sender_kind,
        sender_user_id=draft.sender_user_id,
        sender_key=draft.sender_key,
        client_id=draft.client_id,
        text=draft.text,
        attachments=draft.attachment_ids,
        buttons=draft.buttons,
        private=draft.private,
        platform_message_id=draft.platform_message_id,
        delivery_status=DeliveryStatus.PENDING if outbound else DeliveryStatus.STORED,
        created_at=now,
        sent_at=draft.sent_at,
    )


def _announce(
    *,
    message: NewMessage,
    conversation: LockedConversation,
    inbox: InboxRow,
    sender_name: str | None,
    origin: str | None,
    after: _AfterCommit,
) -> dict[str, Any]:
    """What follows every stored message (the module's doc, step 5): the hook inside the transaction, and
    what follows the commit collected in `after`. Returns the message payload."""
    message_stored_hook.emit(
        MessageStored(
            message_id=message.pk,
            conversation_id=conversation.pk,
            inbox_id=conversation.inbox_id,
            inbox_kind=inbox.kind,
            sender_kind=message.sender_kind,
            private=message.private,
            # A customer's message wakes a snoozed conversation (services/snooze.py hears this).
            snoozed=conversation.snoozed_at is not None,
        )
    )
    payload = selectors.message_payload(message, sender_name=sender_name)
    group = group_conversation(conversation.pk)
    after.frames.append(
        (
            group,
            sb_event(
                group=group,
                frame={"type": "message.new", "message": payload},
                hide_from_customer=message.private,
                origin=origin,  # the sending socket has the message from its message.ack
            ),
        )
    )
    counted = (message.sender_kind, inbox.kind)
    after.counts[counted] = after.counts.get(counted, 0) + 1
    if message_committed.subscribers:
        event = MessageCommitted(
            message=payload,
            conversation={
                "id": conversation.pk,
                "status": conversation.status,
                "inbox_id": conversation.inbox_id,
                "inbox_key": inbox.key,
                "inbox_kind": inbox.kind,
                "contact_id": conversation.contact_id,
                "queue_id": conversation.queue_id,
                "assignee_id": conversation.assignee_id,
            },
        )
        after.committed.append(event)
    return payload


class _AfterCommit:
    """What a batch's messages do once it commits, in one commit callback for the batch (three a message
    were 4% of the daphne process at 2,000 msg/s, docs/performance.md): their `message.new` frames
    handed to the event loop in one go, in the order of the batch; the counters; the `message_committed`
    hook per message (each subscriber's failure logged, the others still run)."""

    __slots__ = ("committed", "counts", "frames")

    def __init__(self) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.committed: list[MessageCommitted] = []

    def run(self) -> None:
        try:
            events_send(self.frames)
        except Exception:
            logger.exception("Publishing a batch's %d messages failed", len(self.frames))
        for (sender_kind, channel), count in self.counts.items():
            MESSAGES_IN.labels(sender_kind=sender_kind, channel=channel).inc(count)
        for event in self.committed:
            try:
                message_committed.emit(event)
            except Exception:
                logger.exception("message_committed failed for message %s", event.message.get("id"))


def message_store_one(draft: Draft) -> tuple[dict[str, Any], bool]:
    """One checked draft through the write path: (payload, created), or the refusal raised."""
    result = messages_store([draft])[0]
    if "error" in result:
        raise SwitchError(result["error"], result["detail"])
    return result["message"], result["created"]


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
    mentions: Sequence[int] = (),
) -> tuple[dict[str, Any], bool]:
    """Store a message in a conversation with its next seq and publish it after commit (a batch of one).

    `buttons` ([{"label", "value"}], bot messages only) travel in the payload for clients that show
    them (the widget); platforms get the text alone, so a bot sends numbered options there instead.
    `mentions` (user ids, an agent's internal note only) notifies those colleagues (services/notifications.py).
    A bot or system message is accepted on a conversation closed within IM_REOPEN_WINDOW_S and leaves
    it closed (the satisfaction survey); anything else on a closed conversation is refused.

    Returns (message payload, created). Idempotent: the same client_id from the same sender in the same
    conversation (or the same platform message id in the same inbox) returns the first message and
    created=False. The seq comes from the locked conversation row, so concurrent senders get 1, 2, 3...
    with no gap and no duplicate.
    """
    draft = Draft(
        conversation_id=conversation_id,
        sender_kind=sender_kind,
        sender_user_id=sender_user_id,
        text=text,
        client_id=client_id,
        attachment_ids=list(attachment_ids) if not isinstance(attachment_ids, str | bytes | dict) else attachment_ids,
        private=private,
        platform_message_id=platform_message_id,
        sent_at=sent_at,
        buttons=list(buttons) if not isinstance(buttons, str | dict) else buttons,
        mentions=list(mentions) if not isinstance(mentions, str | bytes | dict) else mentions,
    )
    return message_store_one(draft_check(draft))


__all__ = [
    "message_earlier",
    "message_send",
    "message_store_one",
    "messages_store",
]
