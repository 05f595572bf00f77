"""The gateway listens to the switch: every stored agent or bot message on a platform inbox gets an
outbox row in the message's own transaction, and a drain is queued once that transaction commits."""

from __future__ import annotations

from typing import Any

from gateway.registry import PLATFORM_INBOX_KINDS

OUTBOUND_SENDER_KINDS = frozenset({"agent", "bot"})


def on_message_stored(
    sender: Any,
    *,
    message_id: int,
    conversation_id: int,
    inbox_id: int,
    inbox_kind: str,
    sender_kind: str,
    private: bool,
    **kwargs: Any,
) -> None:
    if private or sender_kind not in OUTBOUND_SENDER_KINDS or inbox_kind not in PLATFORM_INBOX_KINDS:
        return
    from gateway import services, tasks

    services.outbox_enqueue_for_message(message_id=message_id, on_commit_drain=tasks.outbox_drain_later)


def connect() -> None:
    from imsubsystem.signals import message_stored

    message_stored.connect(on_message_stored, dispatch_uid="gateway.outbox_enqueue")
