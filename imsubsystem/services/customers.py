"""Customers writing: from the widget (one message; a batch of many sockets' messages is services/sends.py),
from an API channel, from an IM platform. Each finds, reopens or opens the customer's conversation and
stores through the one write path (services/messages.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings

from imsubsystem.models import SenderKind
from imsubsystem.services.conversations import closed_conversation_answered, conversation_for_customer
from imsubsystem.services.drafts import Draft, customer_private_refuse, draft_check
from imsubsystem.services.messages import message_earlier, message_store_one
from imsubsystem.services.state import SwitchError


def _customer_store(draft: Draft, *, inbox_id: int, contact_id: int) -> tuple[dict[str, Any], bool]:
    """Store a customer's checked draft in their conversation: a retry returns its first message before
    any conversation is opened; a conversation closed between finding it and writing to it is found
    again (the second turn opens or reopens one)."""
    earlier = message_earlier(draft)
    if earlier is not None:
        return earlier, False
    for _attempt in range(2):
        draft.conversation_id = (
            None
            if draft.attachment_ids
            else closed_conversation_answered(inbox_id=inbox_id, contact_id=contact_id, text=draft.text)
        ) or conversation_for_customer(inbox_id=inbox_id, contact_id=contact_id)
        try:
            return message_store_one(draft)
        except SwitchError as exc:
            if exc.code != "conversation_closed":
                raise
    raise SwitchError("conversation_closed", "The conversation closed while the message was being stored.")


def customer_message_send(
    *,
    inbox_id: int,
    contact_id: int,
    text: str = "",
    client_id: str | None = None,
    attachment_ids: Sequence[int] = (),
    private: Any = False,
) -> tuple[dict[str, Any], bool]:
    """A customer writes (widget or API). Idempotent across conversations too: a retried client_id
    returns the first message even if that conversation has been closed and a new one opened since.
    `private` is what the client asked for: customers never write internal notes, so anything but false
    is refused with `forbidden`."""
    customer_private_refuse(private)
    draft = Draft(
        conversation_id=0,
        sender_kind=SenderKind.CUSTOMER,
        text=text,
        client_id=client_id,
        attachment_ids=attachment_ids,  # type: ignore[arg-type] - draft_check refuses what is not a list
        customer=(inbox_id, contact_id),
    )
    return _customer_store(draft_check(draft), inbox_id=inbox_id, contact_id=contact_id)


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
    text = text or ""
    limit = getattr(settings, "IM_MAX_TEXT_LENGTH", 4000)
    if len(text) > limit:
        # A platform allows longer texts than the widget; keep the message rather than lose it.
        text = text[: limit - 1] + "…"
    draft = Draft(
        conversation_id=0,
        sender_kind=SenderKind.CUSTOMER,
        text=text,
        attachment_ids=list(attachment_ids),
        platform_message_id=str(platform_message_id)[:191],
        sent_at=sent_at,
        customer=(inbox_id, contact_id),
    )
    return _customer_store(draft_check(draft), inbox_id=inbox_id, contact_id=contact_id)
