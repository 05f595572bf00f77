"""Supervisor actions. Each checks the acting user's scope (supervisor.selectors), then calls the one
service that owns the change: routing for presence, the switch for transfers and internal notes.

Refusals raise SupervisorError(code, detail) and change nothing. "not_found" stands for both "no such
thing" and "not yours to see", so ids outside a supervisor's teams cannot be probed.
"""

from __future__ import annotations

from typing import Any

from core.errors import DomainError
from imsubsystem import services as switch
from imsubsystem.models import SenderKind
from imsubsystem.ratelimit import agent_identity, message_rate_check
from imsubsystem.services import SwitchError
from routing import services as routing
from routing.exceptions import RoutingError
from routing.models import AgentStatus
from supervisor.selectors import agent_ids_visible, conversation_visible, queue_ids_visible, user_may_supervise

WHISPER_MAX_LENGTH = 4000


class SupervisorError(DomainError):
    """A supervisor action refused; nothing was changed (core/errors.py)."""


def _require_supervisor(user) -> None:
    if not user_may_supervise(user):
        raise SupervisorError("forbidden", "Only supervisors and admins may do this.")


def _as_id(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise SupervisorError("invalid", f"{name} must be an integer id.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SupervisorError("invalid", f"{name} must be an integer id.") from None
    if number <= 0:
        raise SupervisorError("invalid", f"{name} must be a positive id.")
    return number


def agent_status_change(*, by_user, agent_id: Any, status: Any) -> None:
    """Set an agent of the supervisor's teams available, away or offline (routing.agent_presence_set)."""
    _require_supervisor(by_user)
    agent_id = _as_id(agent_id, "agent_id")
    if status not in AgentStatus.values:
        raise SupervisorError("invalid", f"status must be one of {', '.join(AgentStatus.values)}.")
    if agent_id not in agent_ids_visible(user=by_user):
        raise SupervisorError("not_found", "No such agent in your teams.")
    try:
        routing.agent_presence_set(agent_id=agent_id, status=status)
        # Presence follows the console: an agent set to work who has no console open is counted
        # disconnected after the grace (and offered nothing) unless one of their consoles connects.
        routing.agent_consoles_expect(agent_ids=[agent_id])
    except RoutingError as exc:
        raise SupervisorError(exc.code, exc.detail) from exc


def conversation_reassign(*, by_user, conversation_id: Any, queue_id: Any = None, agent_id: Any = None) -> None:
    """Move an open conversation to another queue or straight to an agent (the switch's transfer).

    Both the conversation and the target must lie within the supervisor's scope.
    """
    _require_supervisor(by_user)
    conversation_id = _as_id(conversation_id, "conversation_id")
    if (queue_id in (None, "")) == (agent_id in (None, "")):
        raise SupervisorError("invalid", "Give exactly one of queue_id or agent_id.")
    conversation = conversation_visible(user=by_user, conversation_id=conversation_id)
    if conversation is None:
        raise SupervisorError("not_found", "No such conversation in your queues.")
    target: dict[str, int] = {}
    if queue_id not in (None, ""):
        queue_id = _as_id(queue_id, "queue_id")
        if queue_id not in queue_ids_visible(user=by_user):
            raise SupervisorError("not_found", "No such queue in your teams.")
        target["queue_id"] = queue_id
    else:
        agent_id = _as_id(agent_id, "agent_id")
        if agent_id not in agent_ids_visible(user=by_user):
            raise SupervisorError("not_found", "No such agent in your teams.")
        target["agent_id"] = agent_id
    try:
        switch.conversation_transfer(conversation_id=conversation.pk, by_user_id=by_user.pk, **target)
    except SwitchError as exc:
        raise SupervisorError(exc.code, exc.detail) from exc


def whisper_send(*, by_user, conversation_id: Any, text: Any, client_id: Any = None) -> dict[str, Any]:
    """An internal note from the supervisor into a conversation: a private message through the switch,
    seen by the agents, never by the customer. Idempotent on client_id."""
    _require_supervisor(by_user)
    conversation_id = _as_id(conversation_id, "conversation_id")
    if not isinstance(text, str) or not text.strip():
        raise SupervisorError("empty", "Write the note first.")
    if len(text) > WHISPER_MAX_LENGTH:
        raise SupervisorError("too_long", f"A note may be at most {WHISPER_MAX_LENGTH} characters.")
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 64):
        raise SupervisorError("invalid", "client_id must be a string of 1 to 64 characters.")
    conversation = conversation_visible(user=by_user, conversation_id=conversation_id)
    if conversation is None:
        raise SupervisorError("not_found", "No such conversation in your queues.")
    try:
        # The same bucket as this user's messages on the agent socket.
        message_rate_check(identity=agent_identity(by_user.pk))
        message, _created = switch.message_send(
            conversation_id=conversation.pk,
            sender_kind=SenderKind.AGENT,
            sender_user_id=by_user.pk,
            text=text,
            client_id=client_id,
            private=True,
        )
    except SwitchError as exc:
        raise SupervisorError(exc.code, exc.detail, retry_after_s=exc.retry_after_s) from exc
    return message
