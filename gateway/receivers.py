"""The gateway listens to the switch: every stored agent or bot message on a platform inbox gets an
outbox row in the message's own transaction (the switch's `message_stored` hook, subscribed in
GatewayConfig.ready), and a drain is queued once that transaction commits. It answers the switch's
outbound questions: the contact's address, the reply window and the template of a conversation an
agent starts (`outbound_prepare`), and that first message's template onto its outbox row
(`outbound_template_set`)."""

from __future__ import annotations

from typing import Any

from gateway import tasks
from gateway.outbox import outbound_plan, outbox_enqueue_for_message
from gateway.registry import PLATFORM_INBOX_KINDS
from gateway.templates import template_attach
from imsubsystem.hooks import (
    MessageStored,
    OutboundTemplate,
    OutboundWanted,
    message_stored,
    outbound_prepare,
    outbound_template_set,
)

OUTBOUND_SENDER_KINDS = frozenset({"agent", "bot"})


def on_message_stored(event: MessageStored) -> None:
    if event.private or event.sender_kind not in OUTBOUND_SENDER_KINDS or event.inbox_kind not in PLATFORM_INBOX_KINDS:
        return
    outbox_enqueue_for_message(message_id=event.message_id, on_commit_drain=tasks.outbox_drain_later)


def on_outbound_prepare(event: OutboundWanted) -> dict[str, Any] | None:
    if event.inbox_kind not in PLATFORM_INBOX_KINDS:
        return None
    return outbound_plan(inbox_id=event.inbox_id, contact_id=event.contact_id, template=event.template)


def on_outbound_template_set(event: OutboundTemplate) -> None:
    template_attach(message_id=event.message_id, template=event.template)


def connect() -> None:
    message_stored.subscribe(on_message_stored, uid="gateway.outbox_enqueue")
    outbound_prepare.subscribe(on_outbound_prepare, uid="gateway.outbound_prepare")
    outbound_template_set.subscribe(on_outbound_template_set, uid="gateway.outbound_template_set")
