"""The events' payloads (version 1, docs/webhooks.md): plain JSON built from the apps' hook events and
the rows they name, never ORM objects. An `Event` also says how its deliveries are ordered (per
conversation, or per contact) and whom it concerns (a conversation's queue and inbox, for team scopes).

Version 1 only ever gains fields; a field that changes meaning or goes away is a new version, announced
in docs/webhooks.md."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from bots.hooks import SurveyAnswered
from crm.hooks import ContactSaved
from crm.models import Contact
from imsubsystem import selectors as switch_selectors
from imsubsystem.hooks import ConversationAssigned, ConversationClosed, ConversationCreated, ConversationLabelsChanged
from imsubsystem.models import Conversation
from webhooks.models import EventType

VERSION = 1


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    ordering_key: str
    conversation_id: int | None = None
    # The conversation's queue and inbox: what a team-scoped subscription is checked against. A contact
    # event has neither (`scoped` False): team-scoped subscriptions never get it.
    queue_id: int | None = None
    inbox_id: int | None = None
    scoped: bool = True
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: datetime = field(default_factory=timezone.now)

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "version": VERSION,
            "created_at": self.created_at.isoformat(),
            "data": self.data,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _user_ref(user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id).first()
    return {"id": user_id, "name": switch_selectors.user_display_name(user) if user else ""}


def conversation_data(conversation_id: int) -> dict[str, Any]:
    c = Conversation.objects.select_related("contact", "inbox", "queue", "assignee").get(pk=conversation_id)
    return {
        "id": c.pk,
        "status": c.status,
        "inbox": {"id": c.inbox_id, "kind": c.inbox.kind, "name": c.inbox.name},
        "contact": {"id": c.contact_id, "name": c.contact.display_name},
        "queue": {"id": c.queue_id, "name": c.queue.name} if c.queue_id else None,
        "assignee": (
            {"id": c.assignee_id, "name": switch_selectors.user_display_name(c.assignee)} if c.assignee_id else None
        ),
        "created_at": c.created_at.isoformat(),
        "closed_at": _iso(c.closed_at),
    }


def _conversation_event(type_: str, event, **data: Any) -> Event:
    """An event about one conversation: its payload under "conversation" beside `data`, kept in order per
    conversation, routed by its queue and inbox (a subscription's team)."""
    return Event(
        type=type_,
        data={"conversation": conversation_data(event.conversation_id), **data},
        ordering_key=f"conversation:{event.conversation_id}",
        conversation_id=event.conversation_id,
        queue_id=event.queue_id,
        inbox_id=event.inbox_id,
    )


def conversation_created(event: ConversationCreated) -> Event:
    return _conversation_event(EventType.CONVERSATION_CREATED, event)


def conversation_assigned(event: ConversationAssigned) -> Event:
    return _conversation_event(
        EventType.CONVERSATION_ASSIGNED,
        event,
        agent=_user_ref(event.agent_id),
        previous_agent=_user_ref(event.previous_agent_id),
        assigned_at=event.assigned_at.isoformat(),
    )


def conversation_closed(event: ConversationClosed) -> Event:
    return _conversation_event(
        EventType.CONVERSATION_CLOSED,
        event,
        previous_status=event.previous_status,
        closed_by=_user_ref(event.closed_by_user_id),
        wrap_up=event.wrap_up,
        close_reason=event.close_reason or None,
    )


def conversation_labels_changed(event: ConversationLabelsChanged) -> Event:
    return _conversation_event(
        EventType.CONVERSATION_LABELS_CHANGED,
        event,
        labels=[dict(label) for label in event.labels],
        added=list(event.added),
        removed=list(event.removed),
        changed_by=_user_ref(event.by_user_id),
    )


MESSAGE_FIELDS = ("id", "conversation_id", "seq", "sender", "text", "attachments", "private", "created_at")


def message_created(message: dict[str, Any], conversation: dict[str, Any]) -> Event:
    """From the switch's internal message format: no query (the message path's batch)."""
    data_message = {name: message.get(name) for name in MESSAGE_FIELDS}
    data_message["buttons"] = message.get("buttons") or []
    conversation_id = message["conversation_id"]
    return Event(
        type=EventType.MESSAGE_CREATED,
        data={
            "message": data_message,
            "conversation": {
                "id": conversation_id,
                "status": conversation.get("status"),
                "inbox_id": conversation.get("inbox_id"),
                "contact_id": conversation.get("contact_id"),
                "queue_id": conversation.get("queue_id"),
                "assignee_id": conversation.get("assignee_id"),
            },
        },
        ordering_key=f"conversation:{conversation_id}",
        conversation_id=conversation_id,
        queue_id=conversation.get("queue_id"),
        inbox_id=conversation.get("inbox_id"),
    )


def contact_data(contact_id: int) -> dict[str, Any]:
    c = Contact.objects.get(pk=contact_id)
    return {
        "id": c.pk,
        "name": c.name,
        "emails": list(c.emails or []),
        "phones": list(c.phones or []),
        "language": c.language,
        "timezone": c.timezone,
        "company_id": c.company_id,
        "custom_attributes": dict(c.custom_attributes or {}),
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
    }


def contact_saved(event: ContactSaved, *, created: bool) -> Event:
    data: dict[str, Any] = {"contact": contact_data(event.contact_id)}
    if not created:
        data["changed"] = list(event.fields)
    return Event(
        type=EventType.CONTACT_CREATED if created else EventType.CONTACT_UPDATED,
        data=data,
        ordering_key=f"contact:{event.contact_id}",
        scoped=False,
    )


def survey_answered(event: SurveyAnswered) -> Event:
    return Event(
        type=EventType.SURVEY_ANSWERED,
        data={
            "survey": {
                "id": event.survey_id,
                "conversation_id": event.conversation_id,
                "contact_id": event.contact_id,
                "agent_id": event.agent_id,
                "queue_id": event.queue_id,
                "rating": event.rating,
                "comment": event.comment,
                "complete": event.complete,
                "answered_at": event.answered_at.isoformat(),
            }
        },
        ordering_key=f"conversation:{event.conversation_id}",
        conversation_id=event.conversation_id,
        queue_id=event.queue_id,
        inbox_id=event.inbox_id,
    )
