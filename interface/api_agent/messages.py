"""Sending from the console outside the socket: an approved platform template (gateway.services), and
"Retry now" on a platform send that failed."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.http import json_body
from gateway import services as gateway_services
from gateway import tasks as gateway_tasks
from imsubsystem.models import Message
from imsubsystem.ratelimit import agent_identity, message_rate_check
from interface.api_agent.base import console_endpoint, conversation_for


@console_endpoint
@require_GET
def conversation_templates(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """The approved templates of the conversation's inbox (empty for platforms without templates)."""
    conversation = conversation_for(request, conversation_id)
    return JsonResponse(
        {
            "conversation_id": conversation.pk,
            "inbox_kind": conversation.inbox.kind,
            "templates": gateway_services.inbox_templates(inbox_id=conversation.inbox_id),
        }
    )


@console_endpoint
@require_POST
def conversation_template_send(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """POST {"name", "language", "params": [str, ...], "client_id"?} → 201 {"message": payload}
    (200 when the client_id was already sent). The CSRF middleware has checked the token."""
    conversation = conversation_for(request, conversation_id, acting=True)
    data = json_body(request)
    name, language, params = data.get("name"), data.get("language"), data.get("params", [])
    client_id = data.get("client_id")
    if not isinstance(name, str) or not isinstance(language, str):
        raise DomainError("invalid", "Give the template's name and language.")
    if client_id is not None and not isinstance(client_id, str):
        raise DomainError("invalid", "client_id must be a string.")
    # The same bucket as this agent's messages on the socket.
    message_rate_check(identity=agent_identity(request.user.pk))
    payload, created = gateway_services.template_send(
        conversation_id=conversation.pk,
        agent_id=request.user.pk,
        name=name,
        language=language,
        params=params,
        client_id=client_id or None,
    )
    return JsonResponse({"message": payload}, status=201 if created else 200)


@console_endpoint
@require_POST
def message_retry(request: HttpRequest, conversation_id: int, message_id: int) -> JsonResponse:
    """POST → 202 {"message_id", "status": "pending"}: "Retry now" on a platform send that failed or is
    waiting for its next attempt. 409 `not_retryable` when there is nothing to retry (sent, or not a
    platform send). The CSRF middleware has checked the token."""
    conversation = conversation_for(request, conversation_id, acting=True)
    if not Message.objects.filter(pk=message_id, conversation_id=conversation.pk).exists():
        raise DomainError("not_found", "No such message in this conversation.")
    item = gateway_services.outbox_retry_now(message_id=message_id)
    if item is None:
        raise DomainError("not_retryable")
    transaction.on_commit(lambda: gateway_tasks.outbox_drain_later(conversation.pk))
    return JsonResponse({"message_id": message_id, "status": "pending"}, status=202)
