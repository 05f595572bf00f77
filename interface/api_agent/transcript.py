"""A past (or current) conversation's whole transcript, read-only, for the console's contact panel: the
switch's `conversation_transcript`, behind the one visibility rule (404 `not_found` for a conversation the
user may not see, the same as for one that does not exist)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from core.errors import DomainError
from imsubsystem import selectors
from interface.api_agent.base import console_endpoint


@console_endpoint
@require_GET
def conversation_transcript(request: HttpRequest, conversation_id: int) -> JsonResponse:
    transcript = selectors.conversation_transcript(user=request.user, conversation_id=conversation_id)
    if transcript is None:
        raise DomainError("not_found", "No such conversation, or it is not yours.")
    transcript["conversation"]["url"] = reverse("interface:conversation_transcript", args=[conversation_id])
    return JsonResponse(transcript)
