"""imsubsystem/frames.py's declarations and imsubsystem/events.py's checker."""

from __future__ import annotations

import pytest

from imsubsystem.events import (
    CLIENT_FRAMES,
    ERROR_CODES,
    HTTP_STATUS_FOR_CODE,
    SERVER_FRAMES,
    FrameError,
    error_frame,
    frame_validate,
    http_status,
    server_frame_check,
)

MESSAGE = {
    "id": 1,
    "conversation_id": 2,
    "seq": 3,
    "client_id": None,
    "sender": {"kind": "agent", "name": "Alice", "id": 7},
    "text": "Hi",
    "attachments": [{"id": 5, "status": "ready", "name": "a.png", "content_type": "image/png", "size": 3}],
    "private": False,
    "created_at": "2026-01-01T00:00:00+00:00",
    "delivery_status": "stored",
}


def test_a_valid_message_frame_passes():
    frame_validate({"type": "message.new", "message": MESSAGE}, direction="server")


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message.new", "message": {**MESSAGE, "seq": "3"}},
        {"type": "message.new", "message": {**MESSAGE, "sender": {"kind": "robot", "name": "x"}}},
        {"type": "message.new", "message": {**MESSAGE, "secret": 1}},
        {"type": "message.new"},
        {"type": "conversation.status", "conversation_id": 1, "status": "lost"},
        {"type": "read", "conversation_id": 1, "by": "agent", "up_to_seq": True},
        {"type": "nope"},
        [],
    ],
)
def test_invalid_server_frames_are_caught(frame):
    with pytest.raises(FrameError):
        frame_validate(frame, direction="server")


def test_client_frames_may_carry_extra_fields_but_not_wrong_ones():
    frame_validate({"type": "ping", "sent_at": 1}, direction="client")
    with pytest.raises(FrameError) as refused:
        frame_validate({"type": "offer.accept"}, direction="client")
    assert refused.value.code == "invalid"
    with pytest.raises(FrameError) as refused:
        frame_validate({"type": "message.new", "message": MESSAGE}, direction="client")
    assert refused.value.code == "unknown_type"


def test_error_frames_use_declared_codes():
    for code in ERROR_CODES:
        frame_validate(error_frame(code, client_id="c"), direction="server")


def test_http_statuses_are_given_for_declared_codes_only():
    # too_large is the media app's own code (an upload or body over the limit), answered 413.
    assert set(HTTP_STATUS_FOR_CODE) - {"too_large"} <= set(ERROR_CODES)
    assert http_status("conversation_closed") == 409 and http_status("too_long") == 400


def test_every_declared_frame_has_a_type_literal_matching_its_key():
    import typing

    for registry in (SERVER_FRAMES, CLIENT_FRAMES):
        for name, declaration in registry.items():
            assert name in typing.get_args(typing.get_type_hints(declaration)["type"])


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "supervisor.ready", "user": {"id": 1}},  # the user's name is declared and missing
        {"type": "supervisor.snapshot", "at": "2030-01-01T00:00:00+00:00"},  # most of a snapshot missing
        {"type": "queue.stats", "at": "x", "queues": [], "agents": [], "extra": 1},
        {"type": "nobody.declared.this"},
    ],
)
def test_the_send_paths_check_refuses_undeclared_and_malformed_frames(frame):
    with pytest.raises(FrameError):
        server_frame_check(frame)


def test_the_send_paths_check_passes_declared_frames():
    server_frame_check({"type": "supervisor.ready", "user": {"id": 1, "name": "Sam"}})
    server_frame_check({"type": "pong"})
