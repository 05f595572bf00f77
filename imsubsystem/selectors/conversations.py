"""Conversations as the consoles, the widget and other apps read them: one (`conversation_get`,
`conversation_visible_get`, `customer_conversation_current`, `customer_status`), the lists (an agent's
"Mine" with unread counts, the waiting list, a contact's past conversations), their summaries
(`conversation_summary`, events.ConversationSummary), the open offers, people's names, and the inbox,
contact and canned-response reads beside them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from crm.models import Contact, ContactIdentity
from imsubsystem.models import (
    OPEN_STATUSES,
    WAITING_STATUSES,
    CannedResponse,
    Conversation,
    ConversationStatus,
    Inbox,
    Message,
    SenderKind,
    WidgetSession,
)
from imsubsystem.selectors.visibility import conversation_visible_to, conversations_visible_q, inbox_usable_by
from imsubsystem.selectors.waiting import _iso, customer_wait_s, queue_info, wait_fields
from routing.models import Queue
from routing.selectors import offers_open_for_agent


def user_display_name(user) -> str:
    if user is None:
        return "Agent"
    return user.get_short_name() or user.get_username()


def user_get(*, user_id: int):
    return get_user_model().objects.filter(pk=user_id).first()


def conversation_summary(conversation: Conversation, *, unread: int | None = None) -> dict[str, Any]:
    """events.ConversationSummary; the conversation should come with contact and inbox selected."""
    if unread is None:
        unread = max(0, conversation.last_seq - conversation.agent_last_read_seq)
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "inbox": {"id": conversation.inbox_id, "kind": conversation.inbox.kind, "name": conversation.inbox.name},
        "contact": {"id": conversation.contact_id, "name": conversation.contact.display_name},
        "queue_id": conversation.queue_id,
        "assignee_id": conversation.assignee_id,
        "last_seq": conversation.last_seq,
        "unread": unread,
        "last_message_at": _iso(conversation.last_message_at),
        "created_at": conversation.created_at.isoformat(),
        "status_version": conversation.status_version,
        "language": conversation.language,
        "snoozed": conversation.snoozed_at is not None,
        "snoozed_until": _iso(conversation.snoozed_until),
    }


def transfer_note_of(conversation: Conversation) -> dict[str, Any] | None:
    """The note the last transfer carried for the receiving agent (frames.TransferNote), or None."""
    if not conversation.transfer_note_id:
        return None
    note = Message.objects.select_related("sender_user").filter(pk=conversation.transfer_note_id).first()
    if note is None:
        return None
    return {
        "message_id": note.pk,
        "seq": note.seq,
        "text": note.text,
        "by": {"id": note.sender_user_id, "name": user_display_name(note.sender_user)},
        "created_at": note.created_at.isoformat(),
    }


def conversation_get(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("contact", "inbox", "assignee", "queue").get(pk=conversation_id)


def conversation_visible_get(*, user, conversation_id: int, acting: bool = False) -> Conversation | None:
    """The conversation (contact, inbox, assignee and queue selected) if the user may see it (with
    `acting`, act on it: visibility.py), else None."""
    try:
        conversation = conversation_get(conversation_id=conversation_id)
    except (Conversation.DoesNotExist, TypeError, ValueError):
        return None
    return conversation if conversation_visible_to(user=user, conversation=conversation, acting=acting) else None


def queue_ref(*, queue_id: int | None) -> dict[str, Any] | None:
    """{"id", "name"} of a queue, as the console's conversation list shows it; None without one."""
    if not queue_id:
        return None
    name = Queue.objects.filter(pk=queue_id).values_list("name", flat=True).first()
    return {"id": queue_id, "name": name or ""}


def conversations_for_agent(*, user_id: int, include_closed_since: timedelta | None = None) -> list[dict[str, Any]]:
    """The conversations an agent holds ("Mine"), newest activity first, each with its unread count.

    Only those assigned to the agent now: a conversation keeps its last assignee when it goes back to
    the bot (a closed conversation the customer reopened) or to a queue, and the agent no longer holds
    it then. `include_closed_since` adds the ones the agent closed within that time.
    Unread counts the customer's public messages after the agent side's read pointer (notes and the
    agents' own messages are never "unread").
    """
    condition = Q(assignee_id=user_id, status=ConversationStatus.ASSIGNED)
    if include_closed_since is not None:
        condition |= Q(
            assignee_id=user_id, status=ConversationStatus.CLOSED, closed_at__gte=timezone.now() - include_closed_since
        )
    conversations = (
        Conversation.objects.filter(condition)
        .select_related("contact", "inbox")
        .annotate(
            unread_count=Count(
                "messages",
                filter=Q(
                    messages__seq__gt=F("agent_last_read_seq"),
                    messages__sender_kind=SenderKind.CUSTOMER,
                ),
            )
        )
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )
    return [conversation_summary(c, unread=c.unread_count) for c in conversations]


def conversations_waiting(*, queue_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Conversations waiting in queues (for the manual-pick list), longest wait first; each summary also
    carries `waiting_since` (ISO 8601) and `wait_s`, the customer's wait (customer_wait_s)."""
    conversations = Conversation.objects.filter(status__in=WAITING_STATUSES).select_related("contact", "inbox")
    if queue_ids is not None:
        conversations = conversations.filter(queue_id__in=list(queue_ids))
    conversations = conversations.order_by("-priority", "waiting_since", "id")
    now = timezone.now()
    return [
        {**conversation_summary(c, unread=c.last_seq - c.agent_last_read_seq), **wait_fields(c, now=now)}
        for c in conversations
    ]


def conversations_for_contact(*, contact_id: int, user, limit: int = 50) -> QuerySet[Conversation]:
    """A contact's conversations this user may see (conversations_visible_q), newest first."""
    return (
        Conversation.objects.filter(conversations_visible_q(user=user), contact_id=contact_id)
        .select_related("inbox", "assignee", "queue")
        .order_by("-created_at", "-id")[:limit]
    )


def conversation_contact(*, conversation_id: int) -> Contact:
    """The CRM contact behind a conversation (for the console's side panel)."""
    return (
        Contact.objects.select_related("company")
        .prefetch_related("tags", "identities")
        .get(conversations__id=conversation_id)
    )


def customer_conversation_current(*, inbox_id: int, contact_id: int) -> Conversation | None:
    """The conversation a customer's widget shows: the open one, else the latest closed one."""
    conversations = Conversation.objects.filter(inbox_id=inbox_id, contact_id=contact_id)
    return (
        conversations.filter(status__in=OPEN_STATUSES).order_by("-id").first() or conversations.order_by("-id").first()
    )


def customer_status(conversation: Conversation) -> dict[str, Any]:
    """What a customer's widget shows of a conversation's state: its status, with the agent's name when
    assigned, or the queue position when waiting (the `ready` frame carries it). The conversation comes
    from conversation_get (assignee selected)."""
    status: dict[str, Any] = {
        "conversation_id": conversation.pk,
        "status": conversation.status,
        "status_version": conversation.status_version,
    }
    if conversation.status == ConversationStatus.ASSIGNED and conversation.assignee_id:
        status["agent"] = {"name": user_display_name(conversation.assignee)}
    elif conversation.status in (ConversationStatus.QUEUED, ConversationStatus.OFFERED):
        info = queue_info(conversation.pk, waited_s=customer_wait_s(conversation))
        if info is not None:
            status["queue"] = info
    return status


def offer_frames_open(*, agent_id: int) -> list[dict[str, Any]]:
    """`offer` frames for the agent's offers still open (routing's record), oldest first."""
    offers = sorted(offers_open_for_agent(agent_id=agent_id), key=lambda o: o["expires_at"])
    conversations = {
        c.pk: c
        for c in Conversation.objects.select_related("contact", "inbox").filter(pk__in=[o["ref"] for o in offers])
    }
    return [
        {
            "type": "offer",
            "offer_id": str(offer["offer_id"]),
            "conversation": conversation_summary(conversations[offer["ref"]]),
            "expires_at": offer["expires_at"].isoformat(),
            "note": transfer_note_of(conversations[offer["ref"]]),
        }
        for offer in offers
        if offer["ref"] in conversations
    ]


# The gateway's URL segment for each inbox kind; SMS arrives through Twilio.
GATEWAY_KIND = {"telegram": "telegram", "whatsapp": "whatsapp", "wechat": "wechat", "sms": "twilio", "api": "api"}


def webhook_path(inbox: Inbox) -> str:
    """`/gateway/<kind>/<key>/`, where the inbox's platform posts; empty for the web widget."""
    kind = GATEWAY_KIND.get(inbox.kind)
    return f"/gateway/{kind}/{inbox.key}/" if kind else ""


def inbox_by_key(*, key: str) -> Inbox | None:
    return Inbox.objects.select_related("default_queue").filter(key=key, is_active=True).first()


def contact_widget_session_live(*, inbox_id: int, contact_id: int) -> bool:
    """Does the contact hold a widget session on this inbox that still works on their next visit (not
    revoked, not idle past IM_WIDGET_SESSION_IDLE_DAYS, after which the widget starts a new visitor)?"""
    idle = timedelta(days=settings.IM_WIDGET_SESSION_IDLE_DAYS)
    return WidgetSession.objects.filter(
        inbox_id=inbox_id, contact_id=contact_id, revoked_at__isnull=True, last_seen_at__gte=timezone.now() - idle
    ).exists()


def outbound_inboxes_for(*, user, contact_id: int) -> list[dict[str, Any]]:
    """The inboxes this user may start a conversation on (`inbox_usable_by`), each with whether the
    contact can be reached there: an identity of the inbox's kind, or for the widget a live session.
    {"id", "name", "kind", "reachable", "open_conversation_id"}, by name."""
    kinds = set(ContactIdentity.objects.filter(contact_id=contact_id).values_list("kind", flat=True))
    open_in = dict(
        Conversation.objects.filter(contact_id=contact_id, open_slot__isnull=False).values_list("inbox_id", "pk")
    )
    found = []
    for inbox in Inbox.objects.filter(is_active=True).order_by("name", "id"):
        if not inbox_usable_by(user=user, inbox=inbox):
            continue
        if inbox.kind == "web":
            reachable = contact_widget_session_live(inbox_id=inbox.pk, contact_id=contact_id)
        else:
            reachable = inbox.kind in kinds
        found.append(
            {
                "id": inbox.pk,
                "name": inbox.name,
                "kind": inbox.kind,
                "reachable": reachable,
                "open_conversation_id": open_in.get(inbox.pk),
            }
        )
    return found


def canned_responses_for(*, user_id: int) -> QuerySet[CannedResponse]:
    """Shared responses and the user's own; a user's own wins over a shared one with the same shortcut."""
    return CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner_id=user_id)).order_by("shortcut", "-owner_id")
