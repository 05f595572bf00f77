"""The contact beside a conversation in the console: read, edit, add a note (through crm.services)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from core.http import json_body
from crm import services as crm_services
from crm.models import Contact
from imsubsystem import selectors
from imsubsystem.visitor import visitor_context_of_conversation
from interface.api_agent.base import console_endpoint, conversation_for
from interface.api_agent.conversations import message_previews

NOTES_SHOWN = 20
PAST_CONVERSATIONS_SHOWN = 20


def contact_payload(request: HttpRequest, contact: Contact, *, current_conversation_id: int) -> dict[str, Any]:
    identities = list(contact.identities.all())
    notes = contact.notes.select_related("author").order_by("-created_at", "-id")[:NOTES_SHOWN]
    past = selectors.conversations_for_contact(contact_id=contact.pk, user=request.user, limit=PAST_CONVERSATIONS_SHOWN)
    previews = message_previews([c.pk for c in past])
    return {
        "id": contact.pk,
        "display_name": contact.display_name,
        "name": contact.name,
        "emails": contact.emails,
        "phones": contact.phones,
        "language": contact.language,
        "timezone": contact.timezone,
        "company": contact.company.name if contact.company_id else "",
        "custom_attributes": contact.custom_attributes,
        "tags": [{"name": t.name, "color": t.color} for t in contact.tags.all()],
        "identities": [
            {
                "kind": i.kind,
                "kind_label": i.get_kind_display(),
                "external_id": i.external_id,
                "display_name": i.display_name,
                "verified": i.verified_at is not None,
            }
            for i in identities
        ],
        # A site proved who this customer is (an identified widget visitor's HMAC).
        "verified": any(i.verified_at is not None for i in identities),
        "visitor": visitor_context_of_conversation(conversation_id=current_conversation_id),
        "notes": [
            {
                "id": n.pk,
                "body": n.body,
                "author": selectors.user_display_name(n.author) if n.author_id else "",
                "created_at": n.created_at.isoformat(),
            }
            for n in notes
        ],
        "conversations": [
            {
                "id": c.pk,
                "status": c.status,
                "channel": c.inbox.name,
                "created_at": c.created_at.isoformat(),
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "agent": selectors.user_display_name(c.assignee) if c.assignee_id else "",
                "wrap_up": c.wrap_up,
                "current": c.pk == current_conversation_id,
                "last_message": previews.get(c.pk),
            }
            for c in past
        ],
        "url": contact.get_absolute_url(),
        "can_edit": request.user.has_perm("crm.change_contact"),
        "can_add_note": request.user.has_perm("crm.add_note"),
    }


CONTACT_FIELDS = {"name": str, "emails": list, "phones": list, "language": str, "timezone": str}


@console_endpoint
@require_http_methods(["GET", "POST"])
def conversation_contact(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = conversation_for(request, conversation_id, acting=request.method != "GET")
    contact = selectors.conversation_contact(conversation_id=conversation.pk)
    if request.method == "POST":
        if not request.user.has_perm("crm.change_contact"):
            raise DomainError("forbidden", "You may not edit contacts.")
        data = json_body(request)
        unknown = sorted(set(data) - set(CONTACT_FIELDS))
        if unknown:
            raise DomainError("invalid", f"Cannot edit: {', '.join(unknown)}.")
        for field, kind in CONTACT_FIELDS.items():
            if field in data and not isinstance(data[field], kind):
                raise DomainError("invalid", f"{field} must be a {'list' if kind is list else 'string'}.")
            if kind is list and field in data and not all(isinstance(v, str) for v in data[field]):
                raise DomainError("invalid", f"{field} must be a list of strings.")
        try:
            crm_services.contact_update(contact=contact, data=data)
        except ValidationError as exc:
            # full_clean failed: nothing was saved; re-read so the reply shows what is stored.
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            raise DomainError("invalid", "Some fields are not valid.", errors=errors) from None
        contact = selectors.conversation_contact(conversation_id=conversation.pk)
    return JsonResponse({"contact": contact_payload(request, contact, current_conversation_id=conversation.pk)})


@console_endpoint
@require_POST
def contact_note_add(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = conversation_for(request, conversation_id, acting=True)
    if not request.user.has_perm("crm.add_note"):
        raise DomainError("forbidden", "You may not add notes.")
    data = json_body(request)
    if not isinstance(data.get("body"), str):
        raise DomainError("invalid", "Send a JSON object with a text body.")
    contact = selectors.conversation_contact(conversation_id=conversation.pk)
    try:
        crm_services.note_create(contact=contact, author=request.user, body=data["body"])
    except ValidationError as exc:
        raise DomainError("invalid", " ".join(exc.messages)) from None
    return JsonResponse(
        {"contact": contact_payload(request, contact, current_conversation_id=conversation.pk)}, status=201
    )
