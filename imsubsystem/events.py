"""The frame checker, error frames and channel-layer groups of the real-time protocol.

The frames themselves are declared in imsubsystem/frames.py (re-exported here: the names other modules
import from `imsubsystem.events`). `frame_validate` checks a frame against its declaration;
`server_frame_check` is what a socket's one send path runs on every frame it sends when
settings.IM_FRAME_CHECK is on (the tests), so an undeclared or malformed frame fails where it is made.
"""

import functools
import types
import typing
from typing import Any, Literal, Union

from core.errors import ERROR_CODES, HTTP_STATUS_FOR_CODE, http_status  # noqa: F401 (the names clients of events use)
from core.text import json_unstorable_path, unstorable_detail
from imsubsystem.frames import *  # noqa: F403 (every declaration, under the names others import from here)
from imsubsystem.frames import CLIENT_FRAMES, SERVER_FRAMES

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


def server_frame_check(frame: Any) -> None:
    """Raise FrameError unless `frame` is a declared server frame that matches its declaration exactly
    (imsubsystem/frames.py). A socket's send path calls it on every frame when settings.IM_FRAME_CHECK is
    on: in the tests, so a frame nobody declared, or one that lost or gained a field, fails there."""
    frame_validate(frame, direction="server")


def error_frame(
    code: str,
    detail: str | None = None,
    *,
    client_id: str | None = None,
    command: str = "",
    retry_after_s: int | None = None,
    reason: str = "",
) -> dict:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": str(detail or ERROR_CODES.get(code, code))}
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
