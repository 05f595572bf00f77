"""The switch's hook events (core/hooks.py): how the apps above it hear of it and answer its questions
without the switch importing them. Frames to clients are declared beside this, in events.py.

- `message_stored`: inside the transaction that stores a message, after its row exists. A subscriber's
  rows commit or roll back with the message; it must not publish or call out. The gateway (its outbox).
- `message_committed`: after the message's transaction commits (robust: a failing subscriber is logged,
  the others still run). The bots (hand the message to a bot worker).
- `bot_wanted`: a conversation opens or reopens: does a bot answer first in this inbox? (`ask`: True or
  None.) The bots.
- `supervision_scope`: which queues and agents does this supervisor's teams cover? (`ask`: a pair of
  (queue ids, agent user ids); no answer: none.) The one visibility rule asks it; the supervisor app,
  which owns teams, answers.
- `closed_reply_taken`: a customer writes to a conversation closed within the reopen window: is this text
  the answer to a bot's pending question there (the survey)? (`ask`: True or None.) The bots.
- `outbound_prepare`: an agent or integrator starts a conversation on a platform inbox: where does the
  platform send it, may free text go out now, and what does the named template say? (`ask`: a dict
  {"recipient", "window_open", "text", "template"}; raises SwitchError for a template the inbox does not
  have; no answer: the inbox has no platform.) The gateway.
- `outbound_template_set`: inside the transaction of an outbound start's first message, after its row
  (and so its outbox row) exists: the message goes out as this approved template. The gateway.
- `message_batch_stored`: once per stored batch, inside its transaction, after every `message_stored`:
  the batch's new messages (the internal message format) and their conversations. Like `message_stored`,
  a subscriber's rows commit or roll back with the messages; it must not publish or call out. Emitted only
  when someone subscribes. The outgoing webhooks (their outbox rows: one insert per batch).
- `conversation_created`, `conversation_assigned`, `conversation_closed`: inside the transaction that
  opens a conversation (not a reopen), gives it to an agent, or closes it, after its row is written; the
  same rules as `message_stored`. The outgoing webhooks.
- `conversation_labels_changed`: inside the transaction that changed a conversation's labels (only when
  they changed); the same rules. The outgoing webhooks (`conversation.labels_changed`).
- `message_stored` also carries `snoozed`: the switch itself hears it (services/snooze.py, subscribed in
  its AppConfig.ready) to wake a snoozed conversation when its customer writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.hooks import Hook, HookEvent


@dataclass(frozen=True)
class MessageStored(HookEvent):
    message_id: int
    conversation_id: int
    inbox_id: int
    inbox_kind: str
    sender_kind: str
    private: bool
    snoozed: bool = False  # the conversation was snoozed when the message came


@dataclass(frozen=True)
class MessageCommitted(HookEvent):
    """`message` is the internal message format (events.MessagePayload); `conversation` is
    {"id", "status", "inbox_id", "inbox_key", "inbox_kind", "contact_id", "queue_id", "assignee_id"} as
    the message found it."""

    message: dict[str, Any]
    conversation: dict[str, Any]


@dataclass(frozen=True)
class MessageBatchStored(HookEvent):
    """`messages`: the new messages of one batch in the internal message format (events.MessagePayload),
    in the order stored; `conversations`: {conversation id: {"inbox_id", "contact_id", "queue_id",
    "assignee_id", "status"}} for each of them."""

    messages: tuple[dict[str, Any], ...]
    conversations: dict[int, dict[str, Any]]


@dataclass(frozen=True)
class ConversationCreated(HookEvent):
    conversation_id: int
    inbox_id: int
    contact_id: int
    queue_id: int | None
    status: str
    created_at: datetime


@dataclass(frozen=True)
class ConversationAssigned(HookEvent):
    """`previous_agent_id`: who held it before (a transfer), or None."""

    conversation_id: int
    inbox_id: int
    contact_id: int
    queue_id: int | None
    agent_id: int
    previous_agent_id: int | None
    assigned_at: datetime


@dataclass(frozen=True)
class ConversationClosed(HookEvent):
    """`previous_status`: bot | queued | offered | assigned; `closed_by_user_id`: None when the system or
    a bot closed it."""

    conversation_id: int
    inbox_id: int
    contact_id: int
    queue_id: int | None
    assignee_id: int | None
    previous_status: str
    closed_by_user_id: int | None
    wrap_up: str
    closed_at: datetime
    close_reason: str = ""  # the code of the close reason picked from the admin's list, or ""


@dataclass(frozen=True)
class ConversationLabelsChanged(HookEvent):
    """`labels`: the conversation's labels now, each {"id", "name", "colour"}; `added` and `removed`: label
    ids."""

    conversation_id: int
    inbox_id: int
    contact_id: int
    queue_id: int | None
    assignee_id: int | None
    labels: tuple[dict[str, Any], ...]
    added: tuple[int, ...]
    removed: tuple[int, ...]
    by_user_id: int | None
    changed_at: datetime


@dataclass(frozen=True)
class InboxOpening(HookEvent):
    inbox_id: int
    inbox_kind: str
    inbox_key: str


@dataclass(frozen=True)
class ClosedReply(HookEvent):
    conversation_id: int
    text: str


@dataclass(frozen=True)
class ScopeWanted(HookEvent):
    user_id: int


message_stored: Hook[MessageStored] = Hook("imsubsystem.message_stored", MessageStored)
message_committed: Hook[MessageCommitted] = Hook("imsubsystem.message_committed", MessageCommitted, robust=True)
bot_wanted: Hook[InboxOpening] = Hook("imsubsystem.bot_wanted", InboxOpening)
closed_reply_taken: Hook[ClosedReply] = Hook("imsubsystem.closed_reply_taken", ClosedReply, robust=True)
supervision_scope: Hook[ScopeWanted] = Hook("imsubsystem.supervision_scope", ScopeWanted)


@dataclass(frozen=True)
class OutboundWanted(HookEvent):
    """`template` is {"name", "language", "params"} as the caller gave it, or None for free text."""

    inbox_id: int
    inbox_kind: str
    contact_id: int
    template: dict[str, Any] | None


@dataclass(frozen=True)
class OutboundTemplate(HookEvent):
    """`template` is the platform's template request the gateway's `outbound_prepare` answered."""

    message_id: int
    template: dict[str, Any]


outbound_prepare: Hook[OutboundWanted] = Hook("imsubsystem.outbound_prepare", OutboundWanted)
outbound_template_set: Hook[OutboundTemplate] = Hook("imsubsystem.outbound_template_set", OutboundTemplate)
message_batch_stored: Hook[MessageBatchStored] = Hook("imsubsystem.message_batch_stored", MessageBatchStored)
conversation_created: Hook[ConversationCreated] = Hook("imsubsystem.conversation_created", ConversationCreated)
conversation_assigned: Hook[ConversationAssigned] = Hook("imsubsystem.conversation_assigned", ConversationAssigned)
conversation_closed: Hook[ConversationClosed] = Hook("imsubsystem.conversation_closed", ConversationClosed)
conversation_labels_changed: Hook[ConversationLabelsChanged] = Hook(
    "imsubsystem.conversation_labels_changed", ConversationLabelsChanged
)
