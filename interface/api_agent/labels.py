"""The console's labels, close reasons and snooze (docs/interface.md): the lists the pickers offer, and
the conversation's labels and snooze set through the switch's services, which apply the one visibility
rule themselves (a conversation the user may not see answers 404 `not_found`)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.http import json_body
from imsubsystem import selectors, services
from interface.api_agent.base import console_endpoint, conversation_for


@console_endpoint
@require_GET
def labels_and_reasons(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"labels": selectors.labels_active(), "close_reasons": selectors.close_reasons_active()})


@console_endpoint
@require_POST
def conversation_labels(request: HttpRequest, conversation_id: int) -> JsonResponse:
    data = json_body(request, max_bytes=4096)
    labels = services.conversation_labels_set(
        conversation_id=conversation_id, label_ids=data.get("label_ids"), by_user_id=request.user.pk
    )
    return JsonResponse({"conversation_id": conversation_id, "labels": labels})


@console_endpoint
@require_POST
def conversation_snooze(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """{"until": ISO 8601 with its offset, or null: until the customer writes}."""
    data = json_body(request, max_bytes=1024)
    until = data.get("until")
    if until is not None:
        parsed = parse_datetime(until) if isinstance(until, str) else None
        if parsed is None or parsed.tzinfo is None:
            raise DomainError("invalid", "until must be an ISO 8601 time with its offset, or null.")
        until = parsed
    snoozed = services.conversation_snooze(conversation_id=conversation_id, by_user_id=request.user.pk, until=until)
    return JsonResponse(snoozed)


@console_endpoint
@require_POST
def conversation_unsnooze(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation_for(request, conversation_id)
    woke = services.conversation_unsnooze(conversation_id=conversation_id, reason="agent", by_user_id=request.user.pk)
    return JsonResponse({"conversation_id": conversation_id, "woke": woke})
