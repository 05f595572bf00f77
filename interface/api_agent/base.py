"""What every endpoint of the agent console's API shares: who may call it and the conversation it names."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

from core.errors import DomainError
from core.http import api_endpoint
from imsubsystem import selectors
from imsubsystem.models import Conversation
from routing.models import AgentProfile

CONSOLE_PERMISSIONS = ("imsubsystem.handle_conversations", "imsubsystem.supervise")


def user_may_use_console(user) -> bool:
    return user.is_authenticated and any(user.has_perm(p) for p in CONSOLE_PERMISSIONS)


def console_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """JSON errors instead of login redirects (`{"error": {"code", "detail"}}`, core/http.py), the role
    check, and no caching of personal data (Cache-Control: no-store on every answer)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            raise DomainError("auth_required", "Log in first.")
        if not user_may_use_console(request.user):
            raise DomainError("forbidden", "Your role cannot use the agent console.")
        return view(request, *args, **kwargs)

    return api_endpoint(wrapper, no_store=True)


def conversation_visible(request: HttpRequest, conversation_id: int, *, acting: bool = False) -> Conversation | None:
    """The conversation if this user may see it (with `acting`, act on it), else None."""
    return selectors.conversation_visible_get(user=request.user, conversation_id=conversation_id, acting=acting)


def conversation_for(request: HttpRequest, conversation_id: int, *, acting: bool = False) -> Conversation:
    """The conversation if this user may see it (with `acting`, act on it: a mention lets one see only);
    404 `not_found` otherwise, so ids do not leak."""
    conversation = conversation_visible(request, conversation_id, acting=acting)
    if conversation is None:
        raise DomainError("not_found", "No such conversation, or it is not yours.")
    return conversation


def agent_presence(*, user) -> str:
    """The presence the console shows on load (the socket keeps it live afterwards)."""
    status = AgentProfile.objects.filter(user=user).values_list("status", flat=True).first()
    return status or "offline"
