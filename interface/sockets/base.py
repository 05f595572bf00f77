"""What every socket of docs/protocol.md shares: frame parsing, rate limiting, error frames, the one send
path and channel-layer delivery (`SwitchSocket`).

Interfaces only: parse and check a frame, make ONE database_sync_to_async call that checks access and
calls one service or selector, send the result. Frames from the channel layer arrive as `sb.event`
messages ({"frame", "hide_from_customer", "origin"}) published by imsubsystem.services. Every frame a
socket sends goes through `send_frame`, which checks it against imsubsystem/frames.py when
settings.IM_FRAME_CHECK is on (the tests), so an undeclared or malformed frame fails where it is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.sessions import InstanceSessionWrapper
from django.utils.functional import Promise

from core.errors import DomainError, database_unreachable
from core.hooks import contracts_checked
from core.text import text_storable
from imsubsystem import selectors
from imsubsystem.events import FrameError, error_frame, frame_validate, group_conversation, server_frame_check
from imsubsystem.ratelimit import TokenBucket
from realtime import SwitchLayer, direct_layer

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
CLOSE_AUTH_FAILED = 4401
CLOSE_FORBIDDEN = 4403
# "Service restart" (1012 in the WebSocket registry) in the application range: daphne's WebSocket library
# refuses to send any close code but 1000 and 3000-4999, and a refused close left the socket open.
CLOSE_SERVICE_RESTART = 4012
CONVERSATION_GROUP_PREFIX = group_conversation(0)[:-1]


class Reply:
    """What one sync step hands back to the socket: frames to send, groups to join or leave."""

    def __init__(self, frames: list[dict] | None = None, join: list[str] | None = None, leave: list[str] | None = None):
        self.frames = frames or []
        self.join = join or []
        self.leave = leave or []


def _lazy_text(value: Any) -> str:
    """json.dumps' fallback: a translated sentence not yet made a str (gettext_lazy) is sent as its text
    in the active language; anything else is refused as before."""
    if isinstance(value, Promise):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Datetimes and dataclasses go to the fallback as with json.dumps (which refuses them), not written.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def frame_text(frame: dict[str, Any]) -> str:
    """A frame as the JSON text a socket sends: orjson (a seventh of the standard library's time a frame;
    two frames leave for each message a customer sends: docs/performance.md), UTF-8 as it is rather than
    \\u escapes, keys that are not strings written as strings as json.dumps writes them. A value orjson
    refuses (an int beyond 64 bits) goes through json.dumps, which has the same fallback for lazy text."""
    try:
        return orjson.dumps(frame, default=_lazy_text, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(frame, separators=(",", ":"), default=_lazy_text)


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def frames_send(send):
    """The innermost `send` that a `websocket.send` message reaches unchanged: past Channels' session
    wrapper (it saves the session for `http.response.start` only, but reads the session's state for every
    message) and past any wrapper that says where it passes frames (`websocket_send_passes_to`:
    config/daphne_drain.py's connection). The socket's frames go straight there; accept and close still
    go through every wrapper."""
    while True:
        owner = getattr(send, "__self__", None)
        if isinstance(owner, InstanceSessionWrapper):
            send = owner.real_send
        elif owner is not None and getattr(owner, "websocket_send_passes_to", None) is not None:
            send = owner.websocket_send_passes_to
        else:
            return send


class ForgetsItsChannel:
    """Tells the channel layer when the consumer has ended, however it ended (a handler that raised
    never reaches disconnect): its queue and group memberships go with it.

    Served where the client's messages come from a queue the layer can put into (daphne's input queue,
    Channels' test communicator) and on a DirectLayer (realtime/fanout.py), the socket waits on that one
    queue for both: the layer announces its messages there (`sb.layer_ready`) and the socket takes them.
    Channels' own loop waits on two tasks with `asyncio.wait` and makes a new task for every message
    (a tenth of the event loop at 2,000 msg/s, docs/performance.md); it is still used with any other
    layer or server."""

    channel_layer: SwitchLayer | None  # set by Channels' consumer from CHANNEL_LAYERS (realtime/protocol.py)

    async def __call__(self, scope, receive, send):
        try:
            inbox = getattr(receive, "__self__", None)
            layer = direct_layer(get_channel_layer(self.channel_layer_alias))
            if layer is None or not callable(getattr(inbox, "put_nowait", None)):
                await super().__call__(scope, receive, send)
                return
            self.scope = scope
            self.channel_layer = layer
            self.channel_name = await layer.new_channel_into(inbox)
            self.base_send = send
            self.frames_send = frames_send(send)
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            # getattr: a consumer that failed before Channels set its layer (a configuration error) must
            # end with that error, not an AttributeError over it.
            layer = getattr(self, "channel_layer", None)
            if layer is not None and getattr(self, "channel_name", None):
                layer.channel_forget(self.channel_name)

    async def sb_layer_ready(self, message) -> None:
        """The layer has messages for this socket: each in order, through the socket's own dispatch."""
        for event in self.channel_layer.take(self.channel_name):
            await self.dispatch(event)


try:
    from autobahn.exception import Disconnected as SocketGone  # what daphne raises on a closed socket
except ImportError:  # pragma: no cover - another ASGI server

    class SocketGone(Exception):  # type: ignore[no-redef]
        pass


class SendsWhileOpen:
    """Sends only while the socket is open. A frame for a socket the client has just left (its group
    event or a snapshot was already on the way) is dropped quietly: there is no one to tell, and the
    client reads what it missed from MySQL when it comes back."""

    gone = False
    frames_send = None  # frames_send(): set when the socket's loop is ours (ForgetsItsChannel)

    async def send_open(self, text: str) -> bool:
        if self.gone:
            return False
        try:
            if self.frames_send is not None:
                await self.frames_send({"type": "websocket.send", "text": text})
            else:
                await self.send(text_data=text)
        except SocketGone:
            self.gone = True
            logger.debug("Frame dropped: the socket %s is closed", getattr(self, "channel_name", "?"))
            return False
        return True

    async def websocket_disconnect(self, message) -> None:
        self.gone = True
        await super().websocket_disconnect(message)

    async def close(self, code=None, reason=None) -> None:
        if self.gone:
            return
        self.gone = True
        with contextlib.suppress(SocketGone):
            await super().close(code=code, reason=reason)


class SwitchSocket(ForgetsItsChannel, SendsWhileOpen, AsyncWebsocketConsumer):
    """Frame parsing, rate limiting, error frames and channel-layer delivery shared by the three sockets."""

    commands: frozenset[str] = frozenset()
    bucket_capacity = 20.0
    bucket_rate = 5.0
    # The media app's viewer scope ("customer:<contact id>", "agent:<user id>") attachment URLs are
    # signed for; set once the socket knows who is on the other end.
    viewer: str | None = None

    async def connect(self) -> None:
        self.bucket = TokenBucket(capacity=self.bucket_capacity, rate=self.bucket_rate)
        self.groups_joined: set[str] = set()
        await self.accept()
        await self.on_open()

    async def on_open(self) -> None:  # pragma: no cover - overridden
        pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every message: that is a hop
        onto the one database thread for each frame in and each event out, queued behind the database
        work of every other socket. Every database touch here goes through database_sync_to_async,
        which closes stale connections itself before and after."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code) -> None:
        for group in list(self.groups_joined):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.clear()

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """The one way a frame leaves a socket. With settings.IM_FRAME_CHECK (on in the tests) a frame
        that imsubsystem/frames.py does not declare, or that does not match its declaration, raises
        FrameError here instead of reaching a client."""
        if contracts_checked():
            server_frame_check(frame)
        await self.send_open(frame_text(frame))

    async def join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    async def leave(self, group: str) -> None:
        if group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)

    async def apply(self, reply: Reply) -> None:
        for group in reply.leave:
            await self.leave(group)
        for group in reply.join:
            await self.join(group)
        for frame in reply.frames:
            await self.send_frame(frame)

    def personalize(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Add this viewer's signed attachment URLs to a message frame (sync: it reads the database)."""
        if self.viewer and frame.get("type") in ("message.new", "message.ack") and frame["message"]["attachments"]:
            return {**frame, "message": selectors.payload_for_viewer(frame["message"], viewer=self.viewer)}
        return frame

    def run_step(self, step, *args) -> Reply:
        """One sync step and the personalisation of its frames, in a single database_sync_to_async hop."""
        reply = step(*args)
        if reply is not None:
            reply.frames = [self.personalize(f) for f in reply.frames]
        return reply

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if text_data is None:
            await self.send_frame(error_frame("bad_json", "Frames are JSON text, not binary."))
            return
        if len(text_data) > MAX_FRAME_BYTES:
            await self.send_frame(error_frame("too_long", f"A frame may be at most {MAX_FRAME_BYTES} bytes."))
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.send_frame(error_frame("bad_json", "The frame is not valid JSON."))
            return
        client_id = frame.get("client_id") if isinstance(frame, dict) else None
        echo = isinstance(client_id, str) and len(client_id) <= 64 and text_storable(client_id)
        client_id = client_id if echo else None
        if not self.bucket.take():
            await self.send_frame(error_frame("rate_limited", client_id=client_id))
            return
        try:
            frame_validate(frame, direction="client")
            if frame["type"] not in self.commands:
                raise FrameError("unknown_type", f"{frame['type']!r} is not accepted on this socket.")
        except FrameError as exc:
            command = frame.get("type") if isinstance(frame, dict) and isinstance(frame.get("type"), str) else ""
            await self.send_frame(error_frame(exc.code, exc.detail, client_id=client_id, command=command[:40]))
            return
        try:
            await self.handle(frame)
        except DomainError as exc:
            await self.send_frame(
                error_frame(
                    exc.code, exc.detail, client_id=client_id, command=frame["type"], retry_after_s=exc.retry_after_s
                )
            )
        except Exception as exc:
            if database_unreachable(exc):
                # MySQL is away for a moment (restarting, failing over). `internal` would make a client
                # give the message up; a 4012 close makes it reconnect with backoff and send again, with
                # the same client_id, whatever was not acknowledged (a commit that made it before the
                # connection died is found by its client_id and acknowledged, never stored twice).
                logger.warning("Frame %s: the database is unreachable (%s); closing with 4012", frame["type"], exc)
                await self.close(code=CLOSE_SERVICE_RESTART)
                return
            logger.exception("Frame %s failed", frame["type"])
            await self.send_frame(error_frame("internal", client_id=client_id, command=frame["type"]))

    async def handle(self, frame: dict[str, Any]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def sb_event(self, event: dict[str, Any]) -> None:
        if event.get("origin") and event["origin"] == self.channel_name:
            return
        group = event.get("group")
        if group and group.startswith(CONVERSATION_GROUP_PREFIX) and group not in self.groups_joined:
            # Published to a conversation this socket has left (or was refused) while the frame waited in
            # its queue: it is no longer this viewer's to see.
            return
        await self.deliver(event["frame"], hide_from_customer=event.get("hide_from_customer", False))

    async def deliver(self, frame: dict[str, Any], *, hide_from_customer: bool) -> None:
        await self.send_frame(await self.personalized(frame))

    async def sb_layer_reset(self, event: dict[str, Any]) -> None:
        """The channel layer may have lost frames for this socket (it fell too far behind, or the layer's
        Redis subscription was lost): close with 4012 so the client reconnects and resumes from MySQL."""
        await self.close(code=CLOSE_SERVICE_RESTART)

    async def personalized(self, frame: dict[str, Any]) -> dict[str, Any]:
        if frame["type"] == "message.new" and frame["message"]["attachments"] and self.viewer:
            return await database_sync_to_async(self.personalize)(frame)
        return frame
