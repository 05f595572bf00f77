"""What a message must be before any conversation is read: the draft the write path stores
(services/messages.py) and the checks every sender is held to (text, client_id, attachment ids, buttons,
who may write internal notes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings

from imsubsystem.models import SenderKind, sender_key_for
from imsubsystem.services.state import SwitchError, text_check

MAX_BUTTONS = 10
MAX_BUTTON_LABEL = 200
MAX_ATTACHMENTS = 10
MAX_MENTIONS = 20


@dataclasses.dataclass
class Draft:
    """A message to store. `customer` = (inbox_id, contact_id) marks a customer's message (its client_id
    is unique across the customer's conversations in the inbox); with `fallback`, a conversation that is
    no longer the customer's open one answers {"fallback": True} instead of storing (the widget batch)."""

    conversation_id: int
    sender_kind: str
    text: str = ""
    sender_user_id: int | None = None
    client_id: str | None = None
    attachment_ids: list[int] = dataclasses.field(default_factory=list)
    private: bool = False
    platform_message_id: str | None = None
    sent_at: datetime | None = None
    buttons: list[dict[str, str]] = dataclasses.field(default_factory=list)
    origin: str | None = None
    customer: tuple[int, int] | None = None
    fallback: bool = False
    # Staff @mentioned in an agent's internal note (user ids; services/notifications.py).
    mentions: list[int] = dataclasses.field(default_factory=list)

    @property
    def sender_key(self) -> str:
        return sender_key_for(sender_kind=self.sender_kind, sender_user_id=self.sender_user_id)


# --- Validation (before any database work) ------------------------------------------------------------
def message_input_check(*, text: Any, attachment_ids: Sequence[Any], client_id: Any) -> list[int]:
    """Text, client_id and attachment ids as every sender must give them; returns the ids as ints."""
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
    if isinstance(attachment_ids, str | bytes | dict):
        raise SwitchError("invalid", "attachment_ids must be a list of integers.")
    try:
        ids = [int(i) for i in attachment_ids if not isinstance(i, bool)]
    except (TypeError, ValueError):
        raise SwitchError("invalid", "attachment_ids must be a list of integers.") from None
    if len(ids) != len(attachment_ids):
        raise SwitchError("invalid", "attachment_ids must be a list of integers.")
    if len(ids) > MAX_ATTACHMENTS:
        raise SwitchError("invalid", f"At most {MAX_ATTACHMENTS} attachments per message.")
    if not text.strip() and not ids:
        raise SwitchError("empty", "A message needs text or an attachment.")
    return ids


def _buttons_check(buttons: Sequence[Any], *, sender_kind: str, private: bool) -> list[dict[str, str]]:
    if not buttons:
        return []
    if sender_kind != SenderKind.BOT or private:
        raise SwitchError("invalid", "Only a bot message to the customer can carry buttons.")
    if isinstance(buttons, str | dict) or len(buttons) > MAX_BUTTONS:
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


def customer_private_refuse(private: Any) -> None:
    """Customers never write internal notes: anything but false is `forbidden`."""
    if private not in (False, None):
        raise SwitchError("forbidden", "Customers cannot write internal notes.")


def _mentions_check(mentions: Any, *, sender_kind: str, private: bool) -> list[int]:
    """A list of at most MAX_MENTIONS user ids, in an agent's internal note only (whether each may be
    mentioned is asked under the write path's lock: services/notifications.py)."""
    if not mentions:
        return []
    if isinstance(mentions, str | bytes | dict) or not isinstance(mentions, Sequence):
        raise SwitchError("invalid", "mentions must be a list of user ids.")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in mentions):
        raise SwitchError("invalid", "mentions must be a list of user ids.")
    if sender_kind != SenderKind.AGENT or not private:
        raise SwitchError("invalid", "Only an internal note can mention colleagues.")
    unique = list(dict.fromkeys(mentions))
    if len(unique) > MAX_MENTIONS:
        raise SwitchError("invalid", f"At most {MAX_MENTIONS} people can be mentioned in one note.")
    return unique


# Django's `Choices.values` builds its list (and the labels' list under it) on every read.
_SENDER_KINDS = frozenset(SenderKind.values)


def draft_check(draft: Draft) -> Draft:
    """Refuse a draft no conversation could take (wrong sender, bad text, ids or buttons); returns it
    with its attachment ids and buttons normalised."""
    if draft.sender_kind not in _SENDER_KINDS:
        raise SwitchError("invalid", f"Unknown sender kind {draft.sender_kind!r}.")
    if draft.sender_kind == SenderKind.AGENT and not draft.sender_user_id:
        raise SwitchError("invalid", "An agent message needs its sender.")
    if draft.sender_kind == SenderKind.CUSTOMER:
        customer_private_refuse(draft.private)
    draft.attachment_ids = message_input_check(
        text=draft.text, attachment_ids=draft.attachment_ids, client_id=draft.client_id
    )
    draft.buttons = _buttons_check(draft.buttons, sender_kind=draft.sender_kind, private=draft.private)
    draft.mentions = _mentions_check(draft.mentions, sender_kind=draft.sender_kind, private=draft.private)
    return draft


def request_draft(request: dict[str, Any]) -> Draft:
    """The checked draft of a socket's batched `message.send` (imsubsystem/batching.py): a customer's
    text into their open conversation ({"inbox_id", "contact_id", "conversation_id", "text", "client_id",
    "private"?, "origin"?}), or, with "kind": "agent", an agent's message or internal note
    ({"user_id", "conversation_id", "text", "client_id", "attachment_ids"?, "private"?, "mentions"?}) held to exactly
    what `message_send` holds it to. Raises SwitchError."""
    if request.get("kind", "customer") == "agent":
        attachment_ids = request.get("attachment_ids", ())
        return draft_check(
            Draft(
                conversation_id=request["conversation_id"],
                sender_kind=SenderKind.AGENT,
                sender_user_id=request["user_id"],
                text=request["text"],
                client_id=request["client_id"],
                attachment_ids=attachment_ids
                if isinstance(attachment_ids, str | bytes | dict)
                else list(attachment_ids),
                private=request.get("private", False),
                origin=request.get("origin"),
                mentions=request.get("mentions") or [],
            )
        )
    customer_private_refuse(request.get("private", False))
    if request.get("attachment_ids"):
        raise SwitchError("invalid", "Messages with attachments go through customer_message_send.")
    return draft_check(
        Draft(
            conversation_id=request["conversation_id"],
            sender_kind=SenderKind.CUSTOMER,
            text=request["text"],
            client_id=request["client_id"],
            origin=request.get("origin"),
            customer=(request["inbox_id"], request["contact_id"]),
            fallback=True,
        )
    )
