"""The internal message format and every frame of the real-time protocol, as typed definitions.

A frame is a JSON object with a "type". Every frame the server sends (`SERVER_FRAMES`) and every frame a
client may send (`CLIENT_FRAMES`) is declared here as a TypedDict; `frame_validate` checks a dict against
its declaration (tests run it on every frame the code emits). Only plain JSON values cross the channel
layer, Celery and the bot registry: never ORM objects. docs/protocol.md describes each frame.
"""

import functools
import types
import typing
from typing import Any, Literal, NotRequired, TypedDict, Union

from core.errors import ERROR_CODES, HTTP_STATUS_FOR_CODE, http_status  # noqa: F401 (the names clients of events use)
from core.text import json_unstorable_path, unstorable_detail

SenderKindName = Literal["customer", "agent", "bot", "system"]
StatusName = Literal["bot", "queued", "offered", "assigned", "closed"]
DeliveryName = Literal["stored", "pending", "retrying", "sent", "delivered", "read", "failed"]
PresenceName = Literal["available", "away", "offline"]
# What routing counts an agent as: the status they chose, or `disconnected` once they have had no live
# console for longer than the grace (docs/routing.md). Nobody chooses `disconnected`.
PresenceShownName = Literal["available", "away", "offline", "disconnected"]


# --- Payloads inside frames ----------------------------------------------------------------------
class Sender(TypedDict):
    kind: SenderKindName
    name: str
    id: NotRequired[int | None]  # the user id of an agent


class Attachment(TypedDict):
    """Published frames carry the first five fields; each socket adds the viewer's signed URLs."""

    id: int
    status: Literal["pending", "ready", "failed", "deleted"]
    name: NotRequired[str]
    content_type: NotRequired[str]
    size: NotRequired[int]
    url: NotRequired[str | None]
    thumbnail_url: NotRequired[str | None]
    width: NotRequired[int | None]
    height: NotRequired[int | None]
    error: NotRequired[str | None]


class Button(TypedDict):
    """A choice under a bot message: the widget shows `label` and sends it back as the customer's text."""

    label: str
    value: str


class MessagePayload(TypedDict):
    """The internal message format: what services return, frames carry and bot handlers receive."""

    id: int
    conversation_id: int
    seq: int
    client_id: str | None
    sender: Sender
    text: str
    attachments: list[Attachment]
    private: bool
    created_at: str
    delivery_status: DeliveryName
    delivery_error: NotRequired[str]
    delivery_retry_at: NotRequired[str]  # while `retrying`: when the next attempt is due
    buttons: NotRequired[list[Button]]  # only on bot messages that offer choices


class QueueInfo(TypedDict):
    position: int
    eta_s: int | None
    # The customer's wait so far, from the hand-over (docs/supervisor.md): what the staff see too.
    waited_s: NotRequired[int | None]


class AgentRef(TypedDict):
    id: NotRequired[int]
    name: str


class ContactRef(TypedDict):
    id: int
    name: str


class ConversationSummary(TypedDict):
    id: int
    status: StatusName
    inbox: dict[str, Any]
    contact: ContactRef
    queue_id: int | None
    assignee_id: int | None
    last_seq: int
    unread: int
    last_message_at: str | None
    created_at: str
    status_version: NotRequired[int]
    queue: NotRequired[dict[str, Any] | None]  # {"id", "name"}: the console's list and conversation.assigned


# --- Server → client frames ----------------------------------------------------------------------
class ReadyFrame(TypedDict):
    type: Literal["ready"]
    conversation_id: int | None
    last_seq: int
    status: NotRequired[StatusName | None]
    status_version: NotRequired[int]  # the conversation.status version this status is
    agent: NotRequired[AgentRef]  # who is chatting, when assigned
    queue: NotRequired[QueueInfo]  # position and wait, when queued or offered


class AgentReadyFrame(TypedDict):
    type: Literal["agent.ready"]
    user: AgentRef
    roles: list[str]
    conversations: list[ConversationSummary]


class SupervisorReadyFrame(TypedDict):
    type: Literal["supervisor.ready"]
    user: AgentRef


class MessageNewFrame(TypedDict):
    type: Literal["message.new"]
    message: MessagePayload


class MessageHiddenFrame(TypedDict):
    """Tells a customer that `seq` exists but is not theirs (an internal note): the gap rule."""

    type: Literal["message.hidden"]
    conversation_id: int
    seq: int


class MessageAckFrame(TypedDict):
    type: Literal["message.ack"]
    client_id: str
    message: MessagePayload
    duplicate: bool


class MessageStatusFrame(TypedDict):
    type: Literal["message.status"]
    conversation_id: int
    message_id: int
    seq: int
    status: DeliveryName
    error: str
    retry_at: NotRequired[str | None]  # with `retrying`: when the next attempt is due


class ResumeDoneFrame(TypedDict):
    type: Literal["resume.done"]
    conversation_id: int | None
    last_seq: int


class TypingFrame(TypedDict):
    type: Literal["typing"]
    conversation_id: int
    active: bool
    sender: Sender


class ReadFrame(TypedDict):
    type: Literal["read"]
    conversation_id: int
    by: Literal["customer", "agent"]
    up_to_seq: int


class ConversationStatusFrame(TypedDict):
    type: Literal["conversation.status"]
    conversation_id: int
    status: StatusName
    # Rises with every status move of the conversation; a client keeps the frame with the highest
    # version it has seen (equal: a newer queue position for the same status).
    version: NotRequired[int]
    queue: NotRequired[QueueInfo]
    agent: NotRequired[AgentRef]


class ConversationAssignedFrame(TypedDict):
    type: Literal["conversation.assigned"]
    conversation: ConversationSummary
    agent: AgentRef
    previous_agent_id: int | None


class ConversationStartedFrame(TypedDict):
    """A customer's socket moved to a new conversation (the old one was closed)."""

    type: Literal["conversation.started"]
    conversation_id: int
    last_seq: int


class ConversationReleasedFrame(TypedDict):
    """To the agent who no longer holds a conversation (transferred or requeued): stop showing it."""

    type: Literal["conversation.released"]
    conversation_id: int
    status: StatusName


class OfferFrame(TypedDict):
    type: Literal["offer"]
    offer_id: str
    conversation: ConversationSummary
    expires_at: str


class OfferClosedFrame(TypedDict):
    type: Literal["offer.closed"]
    offer_id: str
    conversation_id: int
    reason: Literal["accepted", "rejected", "expired", "cancelled"]


class PresenceFrame(TypedDict):
    type: Literal["presence"]
    agent_id: int
    status: PresenceShownName


class QueueChangedFrame(TypedDict):
    type: Literal["queue.changed"]
    queue_id: int


class QueueStatsRow(TypedDict):
    queue_id: int
    name: str
    waiting: int
    longest_wait_s: int
    average_wait_s: int | None
    service_level: float | None
    abandoned: int
    active: int
    agents: dict[str, int]


class AgentStatsRow(TypedDict):
    agent_id: int
    name: str
    status: PresenceName  # what the agent chose
    connected: NotRequired[bool]  # False: no live console for longer than the grace (routing offers nothing)
    state: NotRequired[str]  # available | busy | away | offline | disconnected
    load: int


class BotInboxRow(TypedDict):
    inbox_id: int
    name: str
    count: int


class BotStats(TypedDict):
    """Customers talking to the bot now, within the viewer's scope, per inbox."""

    total: int
    inboxes: list[BotInboxRow]


class QueueStatsFrame(TypedDict):
    type: Literal["queue.stats"]
    at: str
    queues: list[QueueStatsRow]
    agents: list[AgentStatsRow]
    bot: NotRequired[BotStats]


class OkFrame(TypedDict):
    """Answers a command that has no natural result frame (offer.accept, presence.set...)."""

    type: Literal["ok"]
    command: str
    conversation_id: NotRequired[int | None]


class PongFrame(TypedDict):
    type: Literal["pong"]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    detail: str
    client_id: NotRequired[str]
    command: NotRequired[str]
    retry_after_s: NotRequired[int]  # rate_limited: seconds until the next message is accepted
    reason: NotRequired[Literal["unknown", "revoked", "expired"]]  # why auth_failed: the widget starts anew


# --- Client → server frames ----------------------------------------------------------------------
class AuthFrame(TypedDict):
    type: Literal["auth"]
    token: str
    after_seq: NotRequired[int]


class MessageSendFrame(TypedDict):
    type: Literal["message.send"]
    client_id: str
    text: NotRequired[str]
    attachment_ids: NotRequired[list[int]]
    conversation_id: NotRequired[int]  # agents: required
    private: NotRequired[bool]  # agents only


class ResumeFrame(TypedDict):
    type: Literal["resume"]
    after_seq: int
    conversation_id: NotRequired[int]  # agents: required


class TypingCommandFrame(TypedDict):
    type: Literal["typing"]
    active: bool
    conversation_id: NotRequired[int]


class ReadCommandFrame(TypedDict):
    type: Literal["read"]
    up_to_seq: int
    conversation_id: NotRequired[int]


class OfferAnswerFrame(TypedDict):
    type: Literal["offer.accept", "offer.reject"]
    offer_id: str


class PresenceSetFrame(TypedDict):
    type: Literal["presence.set"]
    status: PresenceName


class TransferFrame(TypedDict):
    type: Literal["conversation.transfer"]
    conversation_id: int
    queue_id: NotRequired[int]
    agent_id: NotRequired[int]


class CloseFrame(TypedDict):
    type: Literal["conversation.close"]
    conversation_id: int
    wrap_up: NotRequired[str]


class PickFrame(TypedDict):
    type: Literal["conversation.pick"]
    conversation_id: int


class PingFrame(TypedDict):
    type: Literal["ping"]


SERVER_FRAMES: dict[str, type] = {
    "ready": ReadyFrame,
    "agent.ready": AgentReadyFrame,
    "supervisor.ready": SupervisorReadyFrame,
    "message.new": MessageNewFrame,
    "message.hidden": MessageHiddenFrame,
    "message.ack": MessageAckFrame,
    "message.status": MessageStatusFrame,
    "resume.done": ResumeDoneFrame,
    "typing": TypingFrame,
    "read": ReadFrame,
    "conversation.status": ConversationStatusFrame,
    "conversation.assigned": ConversationAssignedFrame,
    "conversation.started": ConversationStartedFrame,
    "conversation.released": ConversationReleasedFrame,
    "offer": OfferFrame,
    "offer.closed": OfferClosedFrame,
    "presence": PresenceFrame,
    "queue.changed": QueueChangedFrame,
    "queue.stats": QueueStatsFrame,
    "ok": OkFrame,
    "pong": PongFrame,
    "error": ErrorFrame,
}

CLIENT_FRAMES: dict[str, type] = {
    "auth": AuthFrame,
    "message.send": MessageSendFrame,
    "resume": ResumeFrame,
    "typing": TypingCommandFrame,
    "read": ReadCommandFrame,
    "offer.accept": OfferAnswerFrame,
    "offer.reject": OfferAnswerFrame,
    "presence.set": PresenceSetFrame,
    "conversation.transfer": TransferFrame,
    "conversation.close": CloseFrame,
    "conversation.pick": PickFrame,
    "ping": PingFrame,
}

# Which client frames each socket accepts.
WIDGET_COMMANDS = frozenset({"auth", "message.send", "resume", "typing", "read", "ping"})
AGENT_COMMANDS = frozenset(CLIENT_FRAMES) - {"auth"}
SUPERVISOR_COMMANDS = frozenset({"ping"})

# Error codes and their HTTP statuses: the one table is core/errors.py (docs/protocol.md lists when each is sent).


class FrameError(ValueError):
    """A frame that does not match its declaration; `code` is an ERROR_CODES key."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _check(value: Any, annotation: Any, path: str, strict: bool = True) -> None:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return
    if origin is Literal:
        if value not in typing.get_args(annotation):
            raise FrameError("invalid", f"{path} must be one of {list(typing.get_args(annotation))}")
        return
    if origin in (Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            try:
                _check(value, option, path, strict)
                return
            except FrameError as exc:
                errors.append(exc.detail)
        raise FrameError("invalid", " or ".join(errors))
    if annotation is type(None):
        if value is not None:
            raise FrameError("invalid", f"{path} must be null")
        return
    if origin is list:
        if not isinstance(value, list):
            raise FrameError("invalid", f"{path} must be a list")
        (item_type,) = typing.get_args(annotation)
        for index, item in enumerate(value):
            _check(item, item_type, f"{path}[{index}]", strict)
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise FrameError("invalid", f"{path} must be an object")
        key_type, value_type = typing.get_args(annotation)
        for key, item in value.items():
            _check(key, key_type, f"{path} key", strict)
            _check(item, value_type, f"{path}.{key}", strict)
        return
    if typing.is_typeddict(annotation):
        _check_typeddict(value, annotation, path, strict)
        return
    if annotation is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise FrameError("invalid", f"{path} must be an integer")
        return
    if annotation is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise FrameError("invalid", f"{path} must be a number")
        return
    if not isinstance(value, annotation):
        raise FrameError("invalid", f"{path} must be {annotation.__name__}")


@functools.cache
def _hints(declaration: type) -> dict[str, Any]:
    # typing.get_type_hints evaluates every annotation again on each call: once per frame was a
    # measurable share of a socket's work per message (docs/performance.md).
    return typing.get_type_hints(declaration)


def _check_typeddict(value: Any, declaration: type, path: str, strict: bool = True) -> None:
    if not isinstance(value, dict):
        raise FrameError("invalid", f"{path or 'frame'} must be an object")
    hints = _hints(declaration)
    for key in declaration.__required_keys__:
        if key not in value:
            raise FrameError("invalid", f"{path + '.' if path else ''}{key} is required")
    for key, item in value.items():
        if key not in hints:
            if strict:
                raise FrameError(
                    "invalid", f"{path + '.' if path else ''}{key} is not a field of {declaration.__name__}"
                )
            continue
        _check(item, hints[key], f"{path + '.' if path else ''}{key}", strict)


def frame_validate(frame: Any, *, direction: Literal["server", "client"]) -> dict:
    """Check a frame against its declaration; raise FrameError(code, detail) if it does not match.

    Server frames must match exactly (no undeclared field); client frames may carry extra fields, which
    are ignored, so newer clients keep working against an older server. Every string of a client frame
    must be storable text (core/text.py: no lone surrogate), or the frame is `invalid`.
    """
    if not isinstance(frame, dict):
        raise FrameError("bad_json", "A frame is a JSON object.")
    registry = SERVER_FRAMES if direction == "server" else CLIENT_FRAMES
    frame_type = frame.get("type")
    if not isinstance(frame_type, str) or frame_type not in registry:
        raise FrameError("unknown_type", f"Unknown frame type {str(frame_type)[:40]!r}.")
    _check_typeddict(frame, registry[frame_type], "", strict=direction == "server")
    if direction == "client":
        unstorable = json_unstorable_path(frame)
        if unstorable is not None:
            raise FrameError("invalid", unstorable_detail(unstorable))
    return frame


def error_frame(
    code: str,
    detail: str | None = None,
    *,
    client_id: str | None = None,
    command: str = "",
    retry_after_s: int | None = None,
    reason: str = "",
) -> dict:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail or ERROR_CODES.get(code, code)}
    if client_id:
        frame["client_id"] = client_id
    if command:
        frame["command"] = command
    if retry_after_s is not None:
        frame["retry_after_s"] = retry_after_s
    if reason:
        frame["reason"] = reason
        frame["detail"] = detail or AUTH_FAILED_DETAIL.get(reason, frame["detail"])
    return frame


AUTH_FAILED_DETAIL = {
    "unknown": "The session token is unknown.",
    "revoked": "This chat session has ended; start a new one.",
    "expired": "This chat session was idle too long; start a new one.",
}


# --- Channel-layer groups (owned by the switch; docs/protocol.md) -------------------------------------
def group_conversation(conversation_id: int) -> str:
    """Everyone in a conversation: the customer's sockets and the staff watching it."""
    return f"conv.{int(conversation_id)}"


def group_agent(user_id: int) -> str:
    """Every socket of one staff user."""
    return f"agent.{int(user_id)}"


def group_agents_of_queue(queue_id: int) -> str:
    """The agents of a queue, for queue-list updates."""
    return f"agents.{int(queue_id)}"


def group_supervisors() -> str:
    return "supervisors"


def group_widget_session(session_id: int) -> str:
    """Every socket authenticated with one widget session (closed when it is revoked)."""
    return f"widget.{int(session_id)}"
