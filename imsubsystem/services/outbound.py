"""Outbound: an agent (the console) or an integrator (the API) starts a conversation with a CRM contact on
an inbox, assigned to whoever started it, with a first message the platform sends (docs/imsubsystem.md,
"Outbound conversations").

The switch knows the contact's identities and the widget's sessions; what only the platform knows (the
contact's address the outbox sends to, WhatsApp's 24-hour reply window, the inbox's approved templates)
it asks the gateway through the `outbound_prepare` hook, and the first message's template goes onto its
outbox row through `outbound_template_set`, both inside the one transaction."""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import IntegrityError, transaction

from crm.models import Contact
from imsubsystem import selectors
from imsubsystem.hooks import OutboundTemplate, OutboundWanted, outbound_prepare, outbound_template_set
from imsubsystem.models import Conversation, Inbox, Message, SenderKind, sender_key_for
from imsubsystem.services.conversations import conversation_queue
from imsubsystem.services.drafts import Draft, draft_check
from imsubsystem.services.messages import message_store_one
from imsubsystem.services.state import (
    S,
    SwitchError,
    language_for_new_conversation,
    open_slot,
    routing_refusals,
    text_check,
)
from routing import services as routing_services

WIDGET_KIND = "web"
KEY_MAX = 64


def _template_check(template: Any) -> dict[str, Any]:
    if not isinstance(template, dict):
        raise SwitchError("invalid", 'template must be an object {"name", "language", "params"}.')
    unknown = sorted(set(template) - {"name", "language", "params"})
    if unknown:
        raise SwitchError("invalid", f"Unknown template field(s): {', '.join(unknown)}.")
    name, language, params = template.get("name"), template.get("language"), template.get("params", [])
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        raise SwitchError("invalid", "Give the template's name and language.")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise SwitchError("invalid", "The template's parameters must be a list of strings.")
    for value in (name, language, *params):
        text_check(value, field="template")
    return {"name": name, "language": language, "params": list(params)}


def _arguments_check(*, text: Any, template: Any, client_key: Any) -> dict[str, Any] | None:
    if (text is None) == (template is None):
        raise SwitchError("invalid", "Give exactly one of text or template.")
    if client_key is not None:
        if not isinstance(client_key, str) or not 0 < len(client_key) <= KEY_MAX:
            raise SwitchError("invalid", f"The idempotency key must be a string of 1 to {KEY_MAX} characters.")
        text_check(client_key, field="client_key")
    return _template_check(template) if template is not None else None


def _first_started(*, user_id: int, inbox_id: int, contact_id: int, client_key: str) -> Message | None:
    """The first message a start with this key stored (a retried start finds it)."""
    return (
        Message.objects.filter(
            conversation__inbox_id=inbox_id,
            conversation__contact_id=contact_id,
            sender_key=sender_key_for(sender_kind=SenderKind.AGENT, sender_user_id=user_id),
            client_id=client_key,
        )
        .order_by("id")
        .first()
    )


def _plan(
    *, inbox: Inbox, contact_id: int, user_id: int, text: str | None, template: dict[str, Any] | None, client_key
) -> dict[str, Any]:
    """What the first message is and whether it may go: {"text", "template"} or the refusal raised."""
    plan = _plan_for_channel(inbox=inbox, contact_id=contact_id, text=text, template=template)
    # The message checked as the write path will take it, before routing hears of anything.
    _draft_check(user_id=user_id, text=plan["text"], client_key=client_key)
    return plan


def _draft_check(*, user_id: int, text: Any, client_key: str | None) -> None:
    draft_check(
        Draft(conversation_id=0, sender_kind=SenderKind.AGENT, sender_user_id=user_id, text=text, client_id=client_key)
    )


def _plan_for_channel(
    *, inbox: Inbox, contact_id: int, text: str | None, template: dict[str, Any] | None
) -> dict[str, Any]:
    if inbox.kind == WIDGET_KIND:
        if template is not None:
            raise SwitchError("invalid", "Templates are only sent on WhatsApp inboxes.")
        if not selectors.contact_widget_session_live(inbox_id=inbox.pk, contact_id=contact_id):
            raise SwitchError(
                "no_identity", "The contact has no live widget session on this inbox: they have to open it first."
            )
        return {"text": text, "template": None}
    answer = outbound_prepare.ask(
        OutboundWanted(inbox_id=inbox.pk, inbox_kind=inbox.kind, contact_id=contact_id, template=template)
    )
    if answer is None:
        raise SwitchError("invalid", f"Conversations cannot be started on {inbox.kind} inboxes.")
    if not answer["recipient"]:
        raise SwitchError("no_identity", f"The contact has no {inbox.get_kind_display()} address to send to.")
    if template is None and not answer["window_open"]:
        raise SwitchError(
            "template_required",
            "The customer has not written within the platform's reply window: start with an approved template.",
        )
    if template is not None:
        return {"text": answer["text"], "template": answer["template"]}
    return {"text": text, "template": None}


def _message_store(*, conversation_id: int, user_id: int, plan: dict[str, Any], client_key: str | None):
    payload, stored = message_store_one(
        Draft(
            conversation_id=conversation_id,
            sender_kind=SenderKind.AGENT,
            sender_user_id=user_id,
            text=plan["text"],
            client_id=client_key,
        )
    )
    if stored and plan["template"] is not None:
        outbound_template_set.emit(OutboundTemplate(message_id=payload["id"], template=plan["template"]))
    return payload


def _routing_forget(conversation_id: int) -> None:
    """Routing's backend holds the work item of a start being refused; the rollback will not take it
    away (its ledger rows roll back with everything else)."""
    with contextlib.suppress(Exception):
        routing_services.work_cancel(ref=conversation_id, reason="cancelled")


def _open_and_assign(*, inbox: Inbox, contact_id: int, user_id: int) -> int:
    """A new conversation, queued in the inbox's default queue and handed straight to the agent through
    routing (work_transfer to an agent: the agent's capacity counts it, and over capacity is refused)."""
    if inbox.default_queue_id is None:
        raise SwitchError("unknown_queue", "The inbox has no default queue.")
    conversation = Conversation.objects.create(
        contact_id=contact_id,
        inbox=inbox,
        queue_id=inbox.default_queue_id,
        status=S.QUEUED,
        open_slot=open_slot(inbox.pk, contact_id),
        language=language_for_new_conversation(inbox=inbox, contact_id=contact_id),
    )
    conversation_queue(conversation_id=conversation.pk, preferred_agent_id=user_id)
    try:
        with routing_refusals():
            routing_services.work_transfer(ref=conversation.pk, agent_id=user_id)
    except SwitchError:
        _routing_forget(conversation.pk)
        raise
    return conversation.pk


def conversation_start_outbound(
    *,
    contact_id: int,
    inbox_id: int,
    by_user_id: int,
    text: str | None = None,
    template: dict[str, Any] | None = None,
    client_key: str | None = None,
) -> dict[str, Any]:
    """Start a conversation with a contact on an inbox, as the agent `by_user_id`; returns
    {"conversation_id", "created", "message"} (the first message's payload).

    - The user must hold `crm.view_contact` and may use the inbox (`selectors.inbox_usable_by`):
      `forbidden` otherwise. An unknown or inactive inbox or contact is `not_found`.
    - Exactly one of `text` or `template` ({"name", "language", "params"}: one of the inbox's approved
      templates). A platform inbox needs the contact's identity on its platform (`no_identity`); WhatsApp
      outside the 24-hour window needs a template (`template_required`). The web widget needs a live
      widget session of the contact on that inbox (`no_identity`): the message waits in the conversation
      the visitor's widget shows on their next visit.
    - The conversation is assigned to the user through routing (capacity counts it: `over_capacity`,
      `unknown_agent` for a user without an agent profile); the first message goes through the one write
      path, so the gateway's outbox sends it.
    - The contact already has an open conversation in the inbox: as Chatwoot does on an inbox that keeps
      one conversation per contact, that conversation is returned (`created: false`) with the message
      added, when the user may see it; otherwise `conversation_open`.
    - Idempotent on `client_key` (the first message's client_id): a retried start returns the first
      conversation and message (`created: false`).

    Any refusal raises SwitchError and changes nothing.
    """
    template = _arguments_check(text=text, template=template, client_key=client_key)
    if text is not None:
        _draft_check(user_id=by_user_id, text=text, client_key=client_key)
    user = selectors.user_get(user_id=by_user_id)
    if user is None or not user.is_active:
        raise SwitchError("not_found", "No such user.")
    inbox = Inbox.objects.filter(pk=inbox_id, is_active=True).first() if isinstance(inbox_id, int) else None
    if inbox is None:
        raise SwitchError("not_found", "No such inbox.")
    if not isinstance(contact_id, int) or not Contact.objects.filter(pk=contact_id).exists():
        raise SwitchError("not_found", "No such contact.")
    if not user.has_perm("crm.view_contact") or not selectors.inbox_usable_by(user=user, inbox=inbox):
        raise SwitchError("forbidden", "You may not start conversations on this inbox.")

    for attempt in range(2):
        if client_key is not None:
            first = _first_started(user_id=user.pk, inbox_id=inbox.pk, contact_id=contact_id, client_key=client_key)
            if first is not None:
                return {
                    "conversation_id": first.conversation_id,
                    "created": False,
                    "message": selectors.message_payload(first),
                }
        plan = _plan(
            inbox=inbox, contact_id=contact_id, user_id=user.pk, text=text, template=template, client_key=client_key
        )
        existing = Conversation.objects.filter(open_slot=open_slot(inbox.pk, contact_id)).first()
        try:
            with transaction.atomic():
                if existing is not None:
                    if not selectors.conversation_visible_to(user=user, conversation=existing, acting=True):
                        raise SwitchError("conversation_open")
                    conversation_id, created = existing.pk, False
                else:
                    conversation_id = _open_and_assign(inbox=inbox, contact_id=contact_id, user_id=user.pk)
                    created = True
                try:
                    payload = _message_store(
                        conversation_id=conversation_id, user_id=user.pk, plan=plan, client_key=client_key
                    )
                except Exception:
                    if created:
                        _routing_forget(conversation_id)
                    raise
        except IntegrityError:
            # Another start (or the customer's first message) opened the slot meanwhile: look again.
            if attempt:
                raise
            continue
        return {"conversation_id": conversation_id, "created": created, "message": payload}
    raise AssertionError("unreachable")
