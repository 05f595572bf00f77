"""Starting a conversation with a CRM contact from the console (the contact page's "New conversation"):
the inboxes it can start on, and the start itself through the switch's `conversation_start_outbound`."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.http import json_body
from crm.models import Contact
from gateway import services as gateway_services
from imsubsystem import selectors
from imsubsystem import services as switch_services
from imsubsystem.ratelimit import agent_identity, message_rate_check
from interface.api_agent.base import console_endpoint


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    if not request.user.has_perm("crm.view_contact"):
        raise DomainError("forbidden", "You may not view contacts.")
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise DomainError("not_found", "No such contact.")
    return contact


@console_endpoint
@require_http_methods(["GET", "POST"])
def contact_conversations(request: HttpRequest, contact_id: int) -> JsonResponse:
    """GET → {"contact_id", "inboxes": [{"id", "name", "kind", "reachable", "open_conversation_id",
    "templates"}]}: where this user may start a conversation with the contact.

    POST {"inbox_id", "text" | "template": {"name", "language", "params"}, "client_id"?} → 201
    {"conversation_id", "created", "message"} (200 when the conversation was there already: a retry with
    the same client_id, or the contact's open conversation in that inbox). The CSRF middleware has
    checked the token."""
    contact = _contact(request, contact_id)
    if request.method == "GET":
        inboxes = selectors.outbound_inboxes_for(user=request.user, contact_id=contact.pk)
        for inbox in inboxes:
            inbox["templates"] = gateway_services.inbox_templates(inbox_id=inbox["id"])
        return JsonResponse({"contact_id": contact.pk, "inboxes": inboxes})
    data = json_body(request)
    unknown = sorted(set(data) - {"inbox_id", "text", "template", "client_id"})
    if unknown:
        raise DomainError("invalid", f"Unknown field(s): {', '.join(unknown)}.")
    inbox_id = data.get("inbox_id")
    if not isinstance(inbox_id, int) or isinstance(inbox_id, bool):
        raise DomainError("invalid", "inbox_id must be an integer.")
    # The same bucket as this agent's messages on the socket.
    message_rate_check(identity=agent_identity(request.user.pk))
    started = switch_services.conversation_start_outbound(
        contact_id=contact.pk,
        inbox_id=inbox_id,
        by_user_id=request.user.pk,
        text=data.get("text"),
        template=data.get("template"),
        client_key=data.get("client_id"),
    )
    return JsonResponse(started, status=201 if started["created"] else 200)
