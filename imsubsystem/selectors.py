"""Reads for the consoles, the widget and other apps. Payloads are plain dicts (imsubsystem/events.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from crm.models import Contact
from crm.roles import ADMIN
from imsubsystem.models import (
    OPEN_STATUSES,
    WAITING_STATUSES,
    CannedResponse,
    Conversation,
    ConversationStatus,
    Inbox,
    Message,
    SenderKind,
)

BOT_NAME = "Assistant"
SYSTEM_NAME = "Switchboard"


logger = logging.getLogger(__name__)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def user_display_name(user) -> str:
    if user is None:
        return "Agent"
    return user.get_short_name() or user.get_username()


def attachments_describe(ids: Iterable[int]) -> list[dict[str, Any]]:
    """What every viewer may know of a message's attachments. URLs are signed per viewer, so frames
    published to a group carry none; each socket adds its own with `payload_for_viewer`."""
    ids = [int(i) for i in ids]
    if not ids:
        return []
    from media.models import Attachment

    rows = {
        a["id"]: a
        for a in Attachment.objects.filter(pk__in=ids).values("id", "original_name", "content_type", "size", "status")
    }
    described = []
    for attachment_id in ids:
        row = rows.get(attachment_id)
        if row is None:  # deleted by retention
            described.append({"id": attachment_id, "status": "deleted"})
        else:
            described.append(
                {
                    "id": attachment_id,
                    "name": row["original_name"],
                    "content_type": row["content_type"],
                    "size": row["size"],
                    "status": row["status"],
                }
            )
    return described


def payload_for_viewer(payload: dict[str, Any], *, viewer: str) -> dict[str, Any]:
    """A message payload with fresh signed attachment URLs for one viewer ("customer:<contact id>" or
    "agent:<user id>"). The caller has already checked that the viewer may see the conversation."""
    if not payload["attachments"]:
        return payload
    from media.models import Attachment
    from media.selectors import attachment_public_dict

    ids = [a["id"] for a in payload["attachments"]]
    rows = {a.pk: a for a in Attachment.objects.filter(pk__in=ids)}
    conversation_id = payload["conversation_id"]
    attachments = []
    for described in payload["attachments"]:
        row = rows.get(described["id"])
        if row is None:
            attachments.append(described)
            continue
        attachments.append(
            attachment_public_dict(attachment=row, viewer=viewer, may_view=lambda c: c == conversation_id)
        )
    return {**payload, "attachments": attachments}


def message_payload(message: Message, *, sender_name: str | None = None) -> dict[str, Any]:
    """The internal message format (events.MessagePayload) of a stored message."""
    kind = message.sender_kind
    if sender_name is None:
        if kind == SenderKind.CUSTOMER:
            sender_name = message.conversation.contact.display_name
        elif kind == SenderKind.AGENT:
            sender_name = user_display_name(message.sender_user)
        elif kind == SenderKind.BOT:
            sender_name = BOT_NAME
        else:
            sender_name = SYSTEM_NAME
    sender: dict[str, Any] = {"kind": kind, "name": sender_name}
    if kind == SenderKind.AGENT:
        sender["id"] = message.sender_user_id
    payload: dict[str, Any] = {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": sender,
        "text": message.text,
        "attachments": attachments_describe(message.attachments),
        "private": message.private,
        "created_at": message.created_at.isoformat(),
        "delivery_status": message.delivery_status,
    }
    if message.delivery_error:
        payload["delivery_error"] = message.delivery_error
    if message.delivery_retry_at and message.delivery_status == "retrying":
        payload["delivery_retry_at"] = message.delivery_retry_at.isoformat()
    if message.buttons:
        payload["buttons"] = message.buttons
    return payload


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
    }


def queue_ref(*, queue_id: int | None) -> dict[str, Any] | None:
    """{"id", "name"} of a queue, as the console's conversation list shows it; None without one."""
    if not queue_id:
        return None
    from routing.models import Queue

    name = Queue.objects.filter(pk=queue_id).values_list("name", flat=True).first()
    return {"id": queue_id, "name": name or ""}


def conversation_get(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("contact", "inbox", "assignee", "queue").get(pk=conversation_id)


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


# --- The customer's wait (docs/supervisor.md): every surface reads it from here -------------------------
def _wait_seconds(since, now) -> int:
    return max(0, int((now - since).total_seconds()))


def customer_wait_s(conversation: Conversation, *, now=None) -> int | None:
    """How long the customer has waited for a person, from the hand-over until an agent took the
    conversation, across offers, overflow and transfers (a transfer's leg adds to the total). While the
    conversation waits it counts up; once an agent holds it, it is the total at that moment. None for a
    conversation never handed over."""
    if conversation.status in WAITING_STATUSES and conversation.waiting_since is not None:
        return _wait_seconds(conversation.waiting_since, now or timezone.now())
    if conversation.waited is not None:
        return int(conversation.waited.total_seconds())
    return None


def wait_fields(conversation: Conversation, *, now=None) -> dict[str, Any]:
    """`waiting_since` (the instant the customer's total wait counts from, ISO 8601; None unless waiting)
    and `wait_s`, for payloads."""
    waiting = conversation.status in WAITING_STATUSES
    return {
        "waiting_since": _iso(conversation.waiting_since) if waiting else None,
        "wait_s": customer_wait_s(conversation, now=now),
    }


def queue_live(*, now=None) -> dict[int, dict[str, int]]:
    """Per queue, now: `waiting` (queued or offered), `longest_wait_s` (the longest customer's wait among
    them) and `active` (assigned), from one grouped query on the (queue, status) index."""
    now = now or timezone.now()
    rows = (
        Conversation.objects.filter(status__in=(*WAITING_STATUSES, ConversationStatus.ASSIGNED), queue__isnull=False)
        .values("queue_id")
        .annotate(
            waiting=Count("pk", filter=Q(status__in=WAITING_STATUSES)),
            oldest=Min("waiting_since", filter=Q(status__in=WAITING_STATUSES)),
            active=Count("pk", filter=Q(status=ConversationStatus.ASSIGNED)),
        )
    )
    return {
        row["queue_id"]: {
            "waiting": row["waiting"],
            "longest_wait_s": _wait_seconds(row["oldest"], now) if row["oldest"] else 0,
            "active": row["active"],
        }
        for row in rows
    }


# The gateway's URL segment for each inbox kind; SMS arrives through Twilio.
GATEWAY_KIND = {"telegram": "telegram", "whatsapp": "whatsapp", "wechat": "wechat", "sms": "twilio", "api": "api"}


def webhook_path(inbox: Inbox) -> str:
    """`/gateway/<kind>/<key>/`, where the inbox's platform posts; empty for the web widget."""
    kind = GATEWAY_KIND.get(inbox.kind)
    return f"/gateway/{kind}/{inbox.key}/" if kind else ""


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


def messages_after(
    *, conversation_id: int, after_seq: int = 0, include_private: bool, limit: int | None = None
) -> list[dict[str, Any]]:
    """Messages of a conversation after `after_seq`, in seq order.

    With include_private=False (customers) private notes are left out; callers that must account for
    every seq (the customer replay) use `history_for_customer`.
    """
    messages = (
        Message.objects.filter(conversation_id=conversation_id, seq__gt=max(0, after_seq))
        .select_related("conversation__contact", "sender_user")
        .order_by("seq")
    )
    if not include_private:
        messages = messages.filter(private=False)
    if limit is not None:
        messages = messages[:limit]
    return [message_payload(m) for m in messages]


def history_for_customer(*, conversation_id: int, after_seq: int = 0) -> list[dict[str, Any]]:
    """What a customer's replay carries: message.new for public messages, message.hidden for notes,
    so every seq after `after_seq` is accounted for and a missing one means a lost frame."""
    frames: list[dict[str, Any]] = []
    messages = (
        Message.objects.filter(conversation_id=conversation_id, seq__gt=max(0, after_seq))
        .select_related("conversation__contact", "sender_user")
        .order_by("seq")
    )
    for message in messages:
        if message.private:
            frames.append({"type": "message.hidden", "conversation_id": conversation_id, "seq": message.seq})
        else:
            frames.append({"type": "message.new", "message": message_payload(message)})
    return frames


def message_by_client_id(
    *,
    sender_key: str,
    client_id: str,
    conversation_id: int | None = None,
    inbox_id: int | None = None,
    contact_id: int | None = None,
) -> Message | None:
    """The message `sender_key` sent with `client_id`, looked for in one conversation (conversation_id),
    or in every conversation of one customer in one inbox (inbox_id and contact_id): a customer's retry
    finds its first message even after that conversation closed and another opened."""
    if conversation_id is not None:
        if inbox_id is not None or contact_id is not None:
            raise TypeError("Give conversation_id, or inbox_id and contact_id, not both.")
        scope = {"conversation_id": conversation_id}
    elif inbox_id is not None and contact_id is not None:
        scope = {"conversation__inbox_id": inbox_id, "conversation__contact_id": contact_id}
    else:
        raise TypeError("Give conversation_id, or inbox_id and contact_id.")
    return (
        Message.objects.select_related("conversation__contact", "sender_user")
        .filter(**scope, sender_key=sender_key, client_id=client_id)
        .first()
    )


def message_by_platform_id(*, inbox_id: int | None, platform_message_id: str) -> Message | None:
    """The message an IM platform delivered with this id to this inbox (unique together)."""
    return (
        Message.objects.select_related("conversation__contact", "sender_user")
        .filter(inbox_id=inbox_id, platform_message_id=platform_message_id)
        .first()
    )


def customer_conversation_current(*, inbox_id: int, contact_id: int) -> Conversation | None:
    """The conversation a customer's widget shows: the open one, else the latest closed one."""
    conversations = Conversation.objects.filter(inbox_id=inbox_id, contact_id=contact_id)
    return (
        conversations.filter(status__in=OPEN_STATUSES).order_by("-id").first() or conversations.order_by("-id").first()
    )


LINKS_MAX = 100  # attachments one request may ask fresh links for
LINKS_PER_MINUTE = 30  # fresh-link requests one widget session or one staff user may make a minute


def attachment_links_for_customer(*, inbox_id: int, contact_id: int, attachment_ids: list[int]) -> list[dict]:
    """Fresh signed links for attachments of this customer's public messages in this inbox (a history
    redrawn after its links expired). Ids the customer may not see are left out, not refused one by one,
    so the answer tells nothing of other people's files."""
    from media.models import Attachment
    from media.selectors import attachment_public_dict

    wanted = {int(i) for i in attachment_ids[:LINKS_MAX]}
    if not wanted:
        return []
    conversation_ids = set(
        Conversation.objects.filter(inbox_id=inbox_id, contact_id=contact_id).values_list("id", flat=True)
    )
    visible: set[int] = set()
    for ids in Message.objects.filter(conversation_id__in=conversation_ids, private=False).values_list(
        "attachments", flat=True
    ):
        visible.update(int(i) for i in ids or [] if int(i) in wanted)
    viewer = f"customer:{contact_id}"
    return [
        attachment_public_dict(attachment=row, viewer=viewer, may_view=lambda c: c in conversation_ids)
        for row in Attachment.objects.filter(pk__in=visible, conversation_id__in=conversation_ids).order_by("id")
    ]


def attachment_links_for_staff(*, user, attachment_ids: list[int]) -> list[dict]:
    """Fresh signed links for attachments of conversations this staff member may see (the console's
    threads outlive their links). Others are left out."""
    from media.models import Attachment
    from media.selectors import attachment_public_dict

    wanted = {int(i) for i in attachment_ids[:LINKS_MAX]}
    rows = list(Attachment.objects.filter(pk__in=wanted, conversation_id__isnull=False).order_by("id"))
    conversations = {c.pk: c for c in Conversation.objects.filter(pk__in={row.conversation_id for row in rows})}
    allowed = {pk for pk, c in conversations.items() if conversation_visible_to(user=user, conversation=c)}
    viewer = f"agent:{user.pk}"
    return [
        attachment_public_dict(attachment=row, viewer=viewer, may_view=lambda c: c in allowed)
        for row in rows
        if row.conversation_id in allowed
    ]


def inbox_by_key(*, key: str) -> Inbox | None:
    return Inbox.objects.select_related("default_queue").filter(key=key, is_active=True).first()


def canned_responses_for(*, user_id: int) -> QuerySet[CannedResponse]:
    """Shared responses and the user's own; a user's own wins over a shared one with the same shortcut."""
    return CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner_id=user_id)).order_by("shortcut", "-owner_id")


# --- Who may see a conversation: the one rule every surface asks --------------------------------------------
# The console's API and socket, the supervisor pages, API and sockets, the contact record, attachment links
# and the admin all decide through `conversation_visible_to` (one conversation) or `conversations_visible_q`
# (a list); the two are the same rule, written once for a row and once for a query.
#
# - an admin (superuser or the Admin role) sees every conversation;
# - anyone sees the conversations assigned to them;
# - a supervisor (`imsubsystem.supervise`) also sees those of the queues their teams supervise, and those
#   without a queue assigned to an agent serving one of those queues;
# - nobody else sees anything. Surfaces answer "not found" either way, so ids cannot be probed.
#
# Teams belong to the supervisor app, which sits above the switch: it hands the switch its scope function
# from its AppConfig.ready. Without one, supervisors see only what is assigned to them.
_supervision_scope: Callable[[Any], tuple[Iterable[int], Iterable[int]]] | None = None


def supervision_scope_register(scope: Callable[[Any], tuple[Iterable[int], Iterable[int]]] | None) -> None:
    """Name the function `scope(user) -> (queue ids, agent user ids)` a supervisor's teams cover."""
    global _supervision_scope
    _supervision_scope = scope


def user_is_admin(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=ADMIN).exists()


def supervised_scope(*, user) -> tuple[frozenset[int], frozenset[int]]:
    """(queue ids, agent user ids) of the teams this user supervises; empty for everyone else."""
    if _supervision_scope is None or not user.has_perm("imsubsystem.supervise"):
        return frozenset(), frozenset()
    queue_ids, agent_ids = _supervision_scope(user)
    return frozenset(queue_ids), frozenset(agent_ids)


def conversation_visible_to(*, user, conversation: Conversation) -> bool:
    """May this user see this conversation (its messages, notes, contact, files, live frames)?"""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if conversation.assignee_id is not None and conversation.assignee_id == user.pk:
        return True
    # The Admin role holds every permission, so anyone without this one is neither admin nor supervisor.
    if not user.has_perm("imsubsystem.supervise"):
        return False
    if user_is_admin(user):
        return True
    queue_ids, agent_ids = supervised_scope(user=user)
    if conversation.queue_id is not None:
        return conversation.queue_id in queue_ids
    return conversation.assignee_id in agent_ids


def conversations_visible_q(*, user) -> Q:
    """The same rule as a filter on Conversation (an admin's is the empty Q: everything)."""
    if not user or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    condition = Q(assignee_id=user.pk)
    if not user.has_perm("imsubsystem.supervise"):
        return condition
    if user_is_admin(user):
        return Q()
    queue_ids, agent_ids = supervised_scope(user=user)
    if queue_ids:
        condition |= Q(queue_id__in=queue_ids)
    if agent_ids:
        condition |= Q(queue__isnull=True, assignee_id__in=agent_ids)
    return condition


def conversation_visible_get(*, user, conversation_id: int) -> Conversation | None:
    """The conversation (contact, inbox, assignee and queue selected) if the user may see it, else None."""
    try:
        conversation = conversation_get(conversation_id=conversation_id)
    except (Conversation.DoesNotExist, TypeError, ValueError):
        return None
    return conversation if conversation_visible_to(user=user, conversation=conversation) else None


def viewer_may_see_conversation(*, viewer: str, conversation_id: int, user) -> bool:
    """The media app's check when it serves a file (registered in apps.py): an attachment link's viewer
    ("agent:<user id>" in that user's session, "customer:<contact id>", "platform:<inbox id>", "bot:…")
    may still see the file's conversation."""
    conversation = Conversation.objects.only("id", "contact_id", "inbox_id", "assignee_id", "queue_id").filter(
        pk=conversation_id
    )
    conversation = conversation.first()
    if conversation is None:
        return False
    kind, _, ident = viewer.partition(":")
    if kind == "agent":
        return str(getattr(user, "pk", "")) == ident and conversation_visible_to(user=user, conversation=conversation)
    if kind == "customer":
        return str(conversation.contact_id) == ident
    if kind == "platform":
        return str(conversation.inbox_id) == ident
    return kind == "bot"


def staff_may_access(*, user, conversation: Conversation) -> bool:
    """The same as conversation_visible_to (kept for callers that use this name)."""
    return conversation_visible_to(user=user, conversation=conversation)


def queue_ids_watched(*, user) -> list[int] | None:
    """The queues whose waiting list this user sees in the console: the queues they serve and, for a
    supervisor, their teams' queues; None (every queue) for an admin."""
    if user.has_perm("imsubsystem.supervise") and user_is_admin(user):
        return None
    queue_ids = set(agent_queue_ids(user_id=user.pk))
    queue_ids |= supervised_scope(user=user)[0]
    return sorted(queue_ids)


def agent_visible_to(*, user, agent_id: int) -> bool:
    """May a supervisor see this agent's presence (an agent of their teams; an admin: everyone)?"""
    if user_is_admin(user):
        return True
    return agent_id in supervised_scope(user=user)[1]


def user_get(*, user_id: int):
    return get_user_model().objects.filter(pk=user_id).first()


def agent_queue_ids(*, user_id: int) -> list[int]:
    """The queues an agent works (their sockets join those queues' groups for queue-list updates)."""
    from routing.models import AgentProfile

    memberships = AgentProfile.queues.through.objects.filter(agentprofile__user_id=user_id)
    return list(memberships.values_list("queue_id", flat=True))


def offer_frames_open(*, agent_id: int) -> list[dict[str, Any]]:
    """`offer` frames for the agent's offers still open (routing's record), oldest first."""
    from routing.selectors import offers_open_for_agent

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
        }
        for offer in offers
        if offer["ref"] in conversations
    ]


def queue_info(conversation_id: int, *, waited_s: int | None = None) -> dict[str, Any] | None:
    """{"position", "eta_s", "waited_s"?} of a waiting conversation, from routing; None when it is not
    waiting. `waited_s`, when given, is the customer's wait so far (customer_wait_s)."""
    from routing.services import queue_position

    try:
        found = queue_position(ref=conversation_id)
    except Exception:
        logger.exception("Queue position of %s unavailable", conversation_id)
        return None
    if not found:
        return None
    position, eta = found
    info: dict[str, Any] = {"position": int(position), "eta_s": int(eta) if eta is not None else None}
    if waited_s is not None:
        info["waited_s"] = waited_s
    return info


def queue_infos(queue_id: int) -> dict[int, dict[str, Any]]:
    """{conversation id: {"position", "eta_s"}} of every conversation waiting in a routing queue, from one
    routing read (what queue_info gives for each); empty when routing cannot say."""
    from routing.services import queue_positions

    try:
        found = queue_positions(queue_id=queue_id)
    except Exception:
        logger.exception("Queue positions of queue %s unavailable", queue_id)
        return {}
    return {
        ref: {"position": int(position), "eta_s": int(eta) if eta is not None else None}
        for ref, (position, eta) in found.items()
    }


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


def queue_stats_for(*, user) -> dict[str, Any]:
    """The queue.stats frame for a supervisor's socket.

    The statistics are the supervisor app's one service (settings.IM_QUEUE_STATS_PROVIDER, a dotted
    path to function(user=) -> frame, scoped to the user's teams), so the switch imports nothing above
    it. Without one (a deployment without that app), routing's live counts, every queue."""
    path = getattr(settings, "IM_QUEUE_STATS_PROVIDER", None)
    if path:
        from django.utils.module_loading import import_string

        return import_string(path)(user=user)
    from routing.models import AgentProfile
    from routing.selectors import queue_stats

    live = queue_live()
    agents = AgentProfile.objects.select_related("user")
    loads = dict(
        Conversation.objects.filter(status=ConversationStatus.ASSIGNED, assignee__isnull=False)
        .values_list("assignee_id")
        .annotate(n=Count("id"))
    )
    return {
        "type": "queue.stats",
        "at": timezone.now().isoformat(),
        "queues": [
            {
                "queue_id": q["queue_id"],
                "name": q["name"],
                "waiting": live.get(q["queue_id"], {}).get("waiting", 0),
                "longest_wait_s": live.get(q["queue_id"], {}).get("longest_wait_s", 0),
                "average_wait_s": None,
                "service_level": None,
                "abandoned": 0,
                "active": live.get(q["queue_id"], {}).get("active", 0),
                "agents": q["agents"],
            }
            for q in queue_stats()
        ],
        "agents": [
            {
                "agent_id": p.user_id,
                "name": user_display_name(p.user),
                "status": p.status,
                "connected": p.connected,
                "load": loads.get(p.user_id, 0),
            }
            for p in agents
        ],
    }
