"""The conversation's state machine and what every action shares: the refusal, the row lock, the
customer's wait clock, the text check, the reopen window."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.errors import DomainError
from core.text import text_storable, unstorable_detail
from crm.models import Contact
from imsubsystem.models import WAITING_STATUSES, Conversation, ConversationStatus, Inbox
from imsubsystem.selectors.language import customer_language
from routing.exceptions import RoutingError

S = ConversationStatus
WAITING = WAITING_STATUSES

# Which status may follow which. A move not listed is refused with "illegal_transition"; the routing
# hooks rely on that to ignore late events (an offer for a conversation closed meanwhile).
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


def status_move(conversation: Conversation, new: str) -> None:
    if not status_move_allowed(current=conversation.status, new=new):
        raise SwitchError("illegal_transition", f"A conversation cannot go from {conversation.status} to {new}.")
    conversation.status = new


def wait_clock_move(conversation: Conversation, new: str, now: datetime, *, handover: bool = False) -> list[str]:
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


def lock(conversation_id: int) -> Conversation:
    """The conversation row, locked (SELECT ... FOR UPDATE) until the caller's transaction ends."""
    try:
        # No select_related: FOR UPDATE would also lock the joined inbox and contact rows, and every
        # message of an inbox would wait for every other.
        return Conversation.objects.select_for_update().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise SwitchError("not_found", f"No conversation {conversation_id}.") from None


def open_slot(inbox_id: int, contact_id: int) -> str:
    """The unique key of a customer's one open conversation in an inbox."""
    return f"{inbox_id}:{contact_id}"


def reopen_window_start() -> datetime:
    """Conversations closed at or after this moment are within IM_REOPEN_WINDOW_S: the customer's next
    message reopens them, and bot or system messages are still accepted on them."""
    return timezone.now() - timedelta(seconds=getattr(settings, "IM_REOPEN_WINDOW_S", 900))


def text_check(value: str, *, field: str) -> None:
    """Refuse text that cannot be stored (a lone surrogate: core/text.py) with `invalid`."""
    if not text_storable(value):
        raise SwitchError("invalid", unstorable_detail(field))


@contextmanager
def routing_refusals() -> Iterator[None]:
    """Routing's refusals as the switch's (same code and detail), so every caller of the switch catches
    one SwitchError; both are DomainErrors."""
    try:
        yield
    except RoutingError as exc:
        raise SwitchError(exc.code, exc.detail) from exc


def language_for_new_conversation(*, inbox: Inbox, contact_id: int) -> str:
    """The language a new conversation keeps (imsubsystem/selectors/language.py): the contact's (which a
    widget session sets from the browser's or the page's), else the inbox's default."""
    contact_language = Contact.objects.filter(pk=contact_id).values_list("language", flat=True).first()
    return customer_language(contact_language=contact_language or "", inbox_language=inbox.language)
