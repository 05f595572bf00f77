"""The gateway listens to the switch: every stored agent or bot message on a platform inbox gets an
outbox row in the message's own transaction (the switch's `message_stored` hook, subscribed in
GatewayConfig.ready), and a drain is queued once that transaction commits."""

from __future__ import annotations

from gateway import tasks
from gateway.outbox import outbox_enqueue_for_message
from gateway.registry import PLATFORM_INBOX_KINDS
from imsubsystem.hooks import MessageStored, message_stored

OUTBOUND_SENDER_KINDS = frozenset({"agent", "bot"})


def on_message_stored(event: MessageStored) -> None:
    if event.private or event.sender_kind not in OUTBOUND_SENDER_KINDS or event.inbox_kind not in PLATFORM_INBOX_KINDS:
        return
    outbox_enqueue_for_message(message_id=event.message_id, on_commit_drain=tasks.outbox_drain_later)


def connect() -> None:
    message_stored.subscribe(on_message_stored, uid="gateway.outbox_enqueue")
