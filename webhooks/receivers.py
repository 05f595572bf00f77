"""The webhooks hear of the other apps through their hook events (subscribed in WebhooksConfig.ready)
and write their outbox rows inside the transaction of the change, so a rolled-back change sends nothing
and a committed one is never lost. Nothing is read or written for an event nobody subscribed to (the
active subscriptions are cached, webhooks/selectors.py); a batch of messages is one insert."""

from __future__ import annotations

from bots.hooks import SurveyAnswered, survey_answered
from crm.hooks import ContactSaved, contact_created, contact_updated
from imsubsystem.hooks import (
    ConversationAssigned,
    ConversationClosed,
    ConversationCreated,
    ConversationLabelsChanged,
    MessageBatchStored,
    conversation_assigned,
    conversation_closed,
    conversation_created,
    conversation_labels_changed,
    message_batch_stored,
)
from webhooks import events, tasks
from webhooks.models import EventType
from webhooks.outbox import deliveries_enqueue, recipients
from webhooks.selectors import subscriptions_wanting


def _wanted(event_type: str, *, scoped: bool = True, queue_id: int | None = None, inbox_id: int | None = None) -> bool:
    return bool(recipients(event_type, scoped=scoped, queue_id=queue_id, inbox_id=inbox_id))


def on_messages_stored(event: MessageBatchStored) -> None:
    if not subscriptions_wanting(EventType.MESSAGE_CREATED):
        return
    deliveries_enqueue(
        (events.message_created(m, event.conversations.get(m["conversation_id"], {})) for m in event.messages),
        on_commit_drain=tasks.drain_later,
    )


def on_conversation_created(event: ConversationCreated) -> None:
    if _wanted(EventType.CONVERSATION_CREATED, queue_id=event.queue_id, inbox_id=event.inbox_id):
        deliveries_enqueue([events.conversation_created(event)], on_commit_drain=tasks.drain_later)


def on_conversation_assigned(event: ConversationAssigned) -> None:
    if _wanted(EventType.CONVERSATION_ASSIGNED, queue_id=event.queue_id, inbox_id=event.inbox_id):
        deliveries_enqueue([events.conversation_assigned(event)], on_commit_drain=tasks.drain_later)


def on_conversation_closed(event: ConversationClosed) -> None:
    if _wanted(EventType.CONVERSATION_CLOSED, queue_id=event.queue_id, inbox_id=event.inbox_id):
        deliveries_enqueue([events.conversation_closed(event)], on_commit_drain=tasks.drain_later)


def on_conversation_labels_changed(event: ConversationLabelsChanged) -> None:
    if _wanted(EventType.CONVERSATION_LABELS_CHANGED, queue_id=event.queue_id, inbox_id=event.inbox_id):
        deliveries_enqueue([events.conversation_labels_changed(event)], on_commit_drain=tasks.drain_later)


def on_contact_created(event: ContactSaved) -> None:
    if _wanted(EventType.CONTACT_CREATED, scoped=False):
        deliveries_enqueue([events.contact_saved(event, created=True)], on_commit_drain=tasks.drain_later)


def on_contact_updated(event: ContactSaved) -> None:
    if _wanted(EventType.CONTACT_UPDATED, scoped=False):
        deliveries_enqueue([events.contact_saved(event, created=False)], on_commit_drain=tasks.drain_later)


def on_survey_answered(event: SurveyAnswered) -> None:
    if _wanted(EventType.SURVEY_ANSWERED, queue_id=event.queue_id, inbox_id=event.inbox_id):
        deliveries_enqueue([events.survey_answered(event)], on_commit_drain=tasks.drain_later)


def connect() -> None:
    message_batch_stored.subscribe(on_messages_stored, uid="webhooks.messages")
    conversation_created.subscribe(on_conversation_created, uid="webhooks.conversation_created")
    conversation_assigned.subscribe(on_conversation_assigned, uid="webhooks.conversation_assigned")
    conversation_closed.subscribe(on_conversation_closed, uid="webhooks.conversation_closed")
    conversation_labels_changed.subscribe(on_conversation_labels_changed, uid="webhooks.conversation_labels_changed")
    contact_created.subscribe(on_contact_created, uid="webhooks.contact_created")
    contact_updated.subscribe(on_contact_updated, uid="webhooks.contact_updated")
    survey_answered.subscribe(on_survey_answered, uid="webhooks.survey_answered")
