"""Switch fixtures. Every frame any test makes a socket send, and every event published to the channel
layer, is checked against imsubsystem/frames.py; a mismatch fails the test that produced it (the sockets'
send path also raises on one itself, IM_FRAME_CHECK in tests/test.env)."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from crm.roles import AGENT, SUPERVISOR
from imsubsystem import auth
from imsubsystem.events import FrameError, frame_validate
from interface.sockets.base import SwitchSocket
from routing.models import AgentStatus
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.imsubsystem import bot_double
from tests.realtime.support import recording_layer


class FrameLog:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.published: list[tuple[str, dict]] = []
        self.invalid: list[tuple[dict, str]] = []

    def check(self, frame: dict) -> None:
        try:
            frame_validate(frame, direction="server")
        except FrameError as exc:
            self.invalid.append((frame, exc.detail))

    @property
    def types(self) -> set[str]:
        return {f["type"] for f in self.sent} | {f["type"] for _, f in self.published}


@pytest.fixture(autouse=True)
def frame_log(monkeypatch):
    """Checks and records every frame sent through a socket and every event published on the channel
    layer, whichever backend runs: the configured layer is wrapped in a recording one for the test."""
    log = FrameLog()
    send_frame = SwitchSocket.send_frame

    async def checked_send_frame(self, frame):
        log.check(frame)
        log.sent.append(frame)
        await send_frame(self, frame)

    def record(group, message):
        if message.get("type") == "sb.event":
            log.check(message["frame"])
            log.published.append((group, message["frame"]))

    monkeypatch.setattr(SwitchSocket, "send_frame", checked_send_frame)
    with recording_layer(on_send=record):
        yield log
    assert not log.invalid, f"frames that do not match imsubsystem/events.py: {log.invalid}"


@pytest.fixture(autouse=True)
def _no_bots():
    """The switch on its own: nobody answers the bot hooks unless a test installs the double."""
    with bot_double.no_bots():
        yield


@pytest.fixture(autouse=True)
def routing_backend():
    """Routing's in-process backend: these tests drive one process; routing's own contract suite runs
    the same decisions on Redis."""
    from routing.backends import channel_kinds, set_backend
    from routing.backends.memory import MemoryBackend

    previous = set_backend(MemoryBackend(channel_kinds=channel_kinds()))
    yield
    set_backend(previous)


@pytest.fixture
def queue(db):
    return QueueFactory(name="Support", offer_timeout_s=30)


@pytest.fixture
def inbox(queue):
    return InboxFactory(
        key="shop", kind="web", default_queue=queue, config={"allowed_origins": ["https://shop.example"]}
    )


@pytest.fixture
def make_agent(queue):
    def make(username: str, *, role: str = AGENT, status: str = AgentStatus.AVAILABLE, queues=None, capacity: int = 3):
        user = UserFactory(username=username, role=role)
        AgentProfileFactory(
            user=user, status=status, queues=queues if queues is not None else [queue], default_capacity=capacity
        )
        return user

    return make


@pytest.fixture
def widget_session(inbox):
    """(token, session) of a new widget visitor on the `shop` inbox."""
    return auth.widget_session_create(inbox=inbox, name="Vera Visitor", email="vera@example.org")


def cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def supervisor_user(db):
    return UserFactory(username="sup-1", role=SUPERVISOR)


def widget_communicator(*, origin: str | None = "https://shop.example", path: str = "/ws/v1/widget/"):
    from config.asgi import application

    headers = [(b"host", b"switchboard.example")]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def staff_communicator(user, path: str = "/ws/v1/agent/", origin: str | None = None):
    from config.asgi import application

    headers = [(b"host", b"testserver"), (b"cookie", cookie_for(user))]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until(communicator, frame_type: str, *, timeout: float = 5, collect: list | None = None) -> dict:
    """Frames until one of `frame_type` (earlier ones appended to `collect`)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type:
            return frame
        if collect is not None:
            collect.append(frame)


async def send(communicator, frame) -> None:
    await communicator.send_to(text_data=json.dumps(frame))
