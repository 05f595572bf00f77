"""The WebSockets of docs/protocol.md: customer widget, agent console, supervisor dashboard; the staff
sockets share `StaffSocket` with the dashboard's live snapshots (interface/supervisor_live.py).

Interfaces only: parse and check a frame, make ONE database_sync_to_async call that checks access and
calls one service or selector, send the result. Frames from the channel layer arrive as `sb.event`
messages ({"frame", "hide_from_customer", "origin"}) published by imsubsystem.services.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from core.text import text_storable
from crm.roles import ROLES, user_roles
from imsubsystem import auth, selectors, services
from imsubsystem.batching import customer_message_batcher
from imsubsystem.events import (
    AGENT_COMMANDS,
    SUPERVISOR_COMMANDS,
    WIDGET_COMMANDS,
    FrameError,
    error_frame,
    frame_validate,
    group_agent,
    group_agents_of_queue,
    group_conversation,
    group_supervisors,
    group_widget_session,
)
from imsubsystem.models import SenderKind
from imsubsystem.ratelimit import TokenBucket, agent_identity, customer_identity, message_rate_check
from imsubsystem.services import SwitchError
from realtime import SwitchLayer

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
CLOSE_AUTH_FAILED = 4401
CLOSE_FORBIDDEN = 4403
# "Service restart" (1012 in the WebSocket registry) in the application range: daphne's WebSocket library
# refuses to send any close code but 1000 and 3000-4999, and a refused close left the socket open.
CLOSE_SERVICE_RESTART = 4012
AUTH_TIMEOUT_S = 10
CONVERSATION_GROUP_PREFIX = group_conversation(0)[:-1]


class Reply:
    """What one sync step hands back to the socket: frames to send, groups to join or leave."""

    def __init__(self, frames: list[dict] | None = None, join: list[str] | None = None, leave: list[str] | None = None):
        self.frames = frames or []
        self.join = join or []
        self.leave = leave or []


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class ForgetsItsChannel:
    """Tells the channel layer when the consumer has ended, however it ended (a handler that raised
    never reaches disconnect): its queue and group memberships go with it."""

    channel_layer: SwitchLayer | None  # set by Channels' consumer from CHANNEL_LAYERS (realtime/protocol.py)

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.channel_layer is not None and getattr(self, "channel_name", None):
                self.channel_layer.channel_forget(self.channel_name)


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

    async def send_open(self, text: str) -> bool:
        if self.gone:
            return False
        try:
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
        await self.send_open(json.dumps(frame, separators=(",", ":")))

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
        except SwitchError as exc:
            await self.send_frame(
                error_frame(
                    exc.code, exc.detail, client_id=client_id, command=frame["type"], retry_after_s=exc.retry_after_s
                )
            )
        except Exception:
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


# --- Customer widget ---------------------------------------------------------------------------------------
class WidgetConsumer(SwitchSocket):
    commands = WIDGET_COMMANDS

    async def on_open(self) -> None:
        self.session: dict[str, Any] | None = None
        self.conversation_id: int | None = None
        self.sent_seq: dict[int, int] = {}  # conversation id -> highest seq this socket sent in a replay
        self.auth_timer = asyncio.get_running_loop().call_later(AUTH_TIMEOUT_S, self._auth_timeout)

    def _auth_timeout(self) -> None:
        if self.session is None:
            self.auth_close_task = asyncio.ensure_future(self._close_unauthenticated())

    async def _close_unauthenticated(self) -> None:
        await self.send_frame(error_frame("auth_required", "No auth frame within 10 seconds."))
        await self.close(code=CLOSE_AUTH_FAILED)

    async def disconnect(self, code) -> None:
        timer = getattr(self, "auth_timer", None)
        if timer is not None:
            timer.cancel()
        await super().disconnect(code)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            await self.send_frame({"type": "pong"})
            return
        if self.session is None:
            if kind != "auth":
                await self.send_frame(error_frame("auth_required", command=kind))
                await self.close(code=CLOSE_AUTH_FAILED)
                return
            await self._auth(frame)
            return
        if kind == "auth":
            raise SwitchError("invalid", "Already authenticated.")
        # A widget socket speaks for one customer's own conversation only; naming any other is refused
        # the same way whether it exists or not.
        if "conversation_id" in frame and frame["conversation_id"] != self.conversation_id:
            raise SwitchError("not_found", "No such conversation.")
        if kind == "typing":
            if self.conversation_id is not None:
                await services.typing_publish(
                    conversation_id=self.conversation_id,
                    sender={"kind": SenderKind.CUSTOMER, "name": self.session["name"]},
                    active=frame["active"],
                    origin=self.channel_name,
                )
            return
        if kind == "message.send":
            # Into the socket's open conversation, a text message goes with the other sockets' (batched);
            # it comes back when the conversation must be reopened or opened first, already charged to
            # the customer's message bucket.
            batchable = not frame.get("attachment_ids") and self.conversation_id is not None
            charged = batchable and await self._message_send_batched(frame) == "fallback"
            if batchable and not charged:
                return
            await self.apply(await database_sync_to_async(self.run_step)(self._step_message_send, frame, charged))
            return
        step = getattr(self, "_step_" + kind.replace(".", "_"))
        reply = await database_sync_to_async(self.run_step)(step, frame)
        if reply is None:
            await self._refuse(error_frame("auth_failed", reason="revoked"))
            return
        await self.apply(reply)

    async def _message_send_batched(self, frame: dict[str, Any]) -> str:
        """A text message into the socket's open conversation, stored together with other sockets'
        (imsubsystem/batching.py): "sent", or "fallback" when the conversation must be reopened or
        opened first."""
        result = await customer_message_batcher().submit(
            {
                "inbox_id": self.session["inbox_id"],
                "contact_id": self.session["contact_id"],
                "conversation_id": self.conversation_id,
                "text": frame.get("text", ""),
                "client_id": frame["client_id"],
                "private": frame.get("private", False),
                "origin": self.channel_name,
            }
        )
        if "error" in result:
            raise SwitchError(result["error"], result["detail"], retry_after_s=result.get("retry_after_s"))
        if "fallback" in result:
            return "fallback"
        ack = {"type": "message.ack", "client_id": frame["client_id"], "message": result["message"]}
        await self.send_frame({**ack, "duplicate": not result["created"]})
        return "sent"

    async def _auth(self, frame: dict[str, Any]) -> None:
        origin = _header(self.scope, b"origin")
        host = _header(self.scope, b"host")
        # Authorise, then subscribe, then replay.
        result = await database_sync_to_async(self._step_auth)(frame["token"], origin, host)
        if isinstance(result, dict) and result.get("type") == "error":
            await self._refuse(result)
            return
        self.session = result
        self.viewer = f"customer:{result['contact_id']}"
        self.auth_timer.cancel()
        self.conversation_id = result["conversation_id"]
        try:
            # The session's own group, so a revocation from now on closes this socket, and the
            # conversation's, both before reading the history: a message committed in between arrives
            # live (maybe twice, which clients drop by seq), never not at all.
            groups = [group_widget_session(result["session_id"])]
            if self.conversation_id is not None:
                groups.append(group_conversation(self.conversation_id))
            await asyncio.gather(*(self.join(group) for group in groups))  # one round trip to Redis
            reply = await database_sync_to_async(self.run_step)(self._ready_and_replay, frame.get("after_seq", 0))
            if reply is None:  # revoked between the two steps
                await self._refuse(error_frame("auth_failed", reason="revoked"))
                return
            await self.apply(reply)
        except Exception:
            # Never left half-open (authenticated, without `ready`, outside its group): the client
            # reconnects and authenticates again once Redis or the database answers.
            logger.exception("Widget auth failed after the session was found")
            await self.send_frame(error_frame("internal", "Please reconnect.", command="auth"))
            await self.close(code=CLOSE_SERVICE_RESTART)

    async def _refuse(self, frame: dict[str, Any]) -> None:
        """An authentication refusal: say why, leave every group, close with 4401."""
        self.session = None
        for group in list(self.groups_joined):
            await self.leave(group)
        await self.send_frame(frame)
        await self.close(code=CLOSE_AUTH_FAILED)

    def _step_auth(self, token: str, origin: str | None, host: str | None) -> dict[str, Any]:
        session, reason = auth.widget_session_check(token=token)
        if session is None:
            return error_frame("auth_failed", reason=reason)
        if not auth.origin_allowed(inbox=session.inbox, origin=origin, host=host):
            return error_frame("origin_not_allowed")
        current = selectors.customer_conversation_current(inbox_id=session.inbox_id, contact_id=session.contact_id)
        return {
            "session_id": session.pk,
            "inbox_id": session.inbox_id,
            "contact_id": session.contact_id,
            "name": session.contact.display_name,
            "conversation_id": current.pk if current else None,
        }

    def _ready_and_replay(self, after_seq: int) -> Reply | None:
        if not auth.widget_session_live(session_id=self.session["session_id"]):
            return None
        if self.conversation_id is None:
            return Reply([{"type": "ready", "conversation_id": None, "last_seq": 0, "status": None}])
        conversation = selectors.conversation_get(conversation_id=self.conversation_id)
        # What the status frames said while this socket was away: who is chatting, or where in the queue.
        frames = [{"type": "ready", "last_seq": conversation.last_seq, **selectors.customer_status(conversation)}]
        frames += selectors.history_for_customer(conversation_id=conversation.pk, after_seq=after_seq)
        return Reply(frames)

    def _step_message_send(self, frame: dict[str, Any], charged: bool = False) -> Reply:
        session = self.session
        if not charged:
            message_rate_check(identity=customer_identity(session["contact_id"]))
        message, created = services.customer_message_send(
            inbox_id=session["inbox_id"],
            contact_id=session["contact_id"],
            text=frame.get("text", ""),
            client_id=frame["client_id"],
            attachment_ids=frame.get("attachment_ids", ()),
            private=frame.get("private", False),
        )
        ack = {"type": "message.ack", "client_id": frame["client_id"], "message": message, "duplicate": not created}
        if message["conversation_id"] == self.conversation_id:
            return Reply([ack])
        # A new (or another reopened) conversation: move the socket to it and replay it from the start,
        # since its first frames were published before this socket joined its group.
        previous = self.conversation_id
        self.conversation_id = message["conversation_id"]
        conversation = selectors.conversation_get(conversation_id=self.conversation_id)
        frames = [
            ack,
            {"type": "conversation.started", "conversation_id": conversation.pk, "last_seq": conversation.last_seq},
            *selectors.history_for_customer(conversation_id=conversation.pk, after_seq=0),
        ]
        return Reply(
            frames,
            join=[group_conversation(self.conversation_id)],
            leave=[group_conversation(previous)] if previous else [],
        )

    def _step_resume(self, frame: dict[str, Any]) -> Reply | None:
        # A replay reads history: the session must still be live (None: it was revoked meanwhile).
        if not auth.widget_session_live(session_id=self.session["session_id"]):
            return None
        if self.conversation_id is None:
            return Reply([{"type": "resume.done", "conversation_id": None, "last_seq": 0}])
        frames = selectors.history_for_customer(conversation_id=self.conversation_id, after_seq=frame["after_seq"])
        last_seq = selectors.conversation_get(conversation_id=self.conversation_id).last_seq
        frames.append({"type": "resume.done", "conversation_id": self.conversation_id, "last_seq": last_seq})
        return Reply(frames)

    def _step_read(self, frame: dict[str, Any]) -> Reply:
        if self.conversation_id is None:
            raise SwitchError("not_found", "There is no conversation yet.")
        services.conversation_read_mark(
            conversation_id=self.conversation_id, by="customer", up_to_seq=frame["up_to_seq"]
        )
        return Reply()

    def _seq_of(self, frame: dict[str, Any]) -> tuple[int, int] | None:
        if frame["type"] == "message.new":
            return frame["message"]["conversation_id"], frame["message"]["seq"]
        if frame["type"] == "message.hidden":
            return frame["conversation_id"], frame["seq"]
        return None

    def _note_replayed(self, frame: dict[str, Any]) -> None:
        found = self._seq_of(frame)
        if found is not None:
            conversation_id, seq = found
            self.sent_seq[conversation_id] = max(seq, self.sent_seq.get(conversation_id, 0))

    async def apply(self, reply: Reply) -> None:
        await super().apply(reply)
        for frame in reply.frames:
            self._note_replayed(frame)

    async def deliver(self, frame: dict[str, Any], *, hide_from_customer: bool) -> None:
        if frame["type"] == "error" and frame["code"] == "auth_failed":
            # The session was revoked (services.widget_sessions_revoke): nothing more for this socket.
            await self._refuse(frame)
            return
        found = self._seq_of(frame)
        if found is not None and found[1] <= self.sent_seq.get(found[0], 0):
            # Already sent in a replay (the socket joined the group just before reading the history):
            # the live copy adds nothing. Only replays raise the mark, so live frames that arrive out
            # of order (published by two processes) are all delivered.
            return
        if hide_from_customer:
            if frame["type"] == "message.new":
                message = frame["message"]
                await self.send_frame(
                    {"type": "message.hidden", "conversation_id": message["conversation_id"], "seq": message["seq"]}
                )
            return
        if frame["type"] == "typing" and frame["sender"]["kind"] == SenderKind.CUSTOMER:
            return
        await self.send_frame(await self.personalized(frame))


# --- Staff sockets --------------------------------------------------------------------------------------------
def routing_console_heartbeat_s() -> float:
    return float(getattr(settings, "ROUTING_CONSOLE_HEARTBEAT_S", 10.0))


def routing_console_grace_s() -> float:
    return float(getattr(settings, "ROUTING_CONSOLE_GRACE_S", 30.0))


async def _consoles_sweep() -> None:
    try:
        await database_sync_to_async(services.agent_consoles_sweep)()
    except Exception:
        logger.exception("console sweep failed")


def _staff_origin_allowed(scope) -> bool:
    """Cookie-authenticated sockets refuse other sites' pages (cross-site WebSocket hijacking)."""
    origin = _header(scope, b"origin")
    if not origin:
        return True
    host = _header(scope, b"host") or ""
    if urlsplit(origin).netloc == host:
        return True
    return origin.rstrip("/") in [o.rstrip("/") for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])]


class StaffSocket(SwitchSocket):
    """A cookie-authenticated staff socket (the agent console, both supervisor sockets): a logged-in user,
    a page of this site (the origin check), then the socket's own admission in `_step_open`."""

    required_roles: frozenset[str] = frozenset(ROLES)
    forbidden_detail = "This socket is for staff with a role."

    async def on_open(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.send_frame(error_frame("auth_required", "Log in first."))
            await self.close(code=CLOSE_AUTH_FAILED)
            return
        if not _staff_origin_allowed(self.scope):
            await self.send_frame(error_frame("origin_not_allowed", "This page may not open the socket."))
            await self.close(code=CLOSE_FORBIDDEN)
            return
        opened = await database_sync_to_async(self._step_open)()
        if opened is None:
            await self.send_frame(error_frame("forbidden", self.forbidden_detail))
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.apply(opened)

    def _step_open(self) -> Reply | None:  # pragma: no cover - overridden
        raise NotImplementedError


class AgentConsumer(StaffSocket):
    commands = AGENT_COMMANDS
    bucket_capacity = 60.0
    bucket_rate = 20.0

    def _step_open(self) -> Reply | None:
        roles = user_roles(self.user)
        if not roles & self.required_roles:
            return None
        self.roles = sorted(roles)
        self.viewer = f"agent:{self.user.pk}"
        # Presence follows the console: this socket counts the agent connected (routing offers work
        # only to agents with a live console) until it closes or stops beating.
        services.agent_console_open(agent_id=self.user.pk, console=self.channel_name)
        self.console_open = True
        self.supervises = self.user.has_perm("imsubsystem.supervise")
        conversations = selectors.conversations_for_agent(user_id=self.user.pk)
        self.conversation_ids = {c["id"] for c in conversations}
        join = [group_agent(self.user.pk)]
        join += [group_agents_of_queue(q) for q in selectors.agent_queue_ids(user_id=self.user.pk)]
        join += [group_conversation(c) for c in self.conversation_ids]
        ready = {
            "type": "agent.ready",
            "user": {"id": self.user.pk, "name": selectors.user_display_name(self.user)},
            "roles": self.roles,
            "conversations": conversations,
        }
        # An offer made while this console was away (a reload, a daphne process that died) is still
        # open: show it again rather than let it run out unseen.
        return Reply([ready, *selectors.offer_frames_open(agent_id=self.user.pk)], join=join)

    async def apply(self, reply: Reply) -> None:
        await super().apply(reply)
        if getattr(self, "console_open", False) and getattr(self, "heartbeat_task", None) is None:
            self.heartbeat_task = asyncio.ensure_future(self._console_heartbeat())

    async def _console_heartbeat(self) -> None:
        """Refresh this console while the socket lives. If this process dies the refreshes stop, and the
        console lapses after three heartbeats without anyone closing it."""
        interval = routing_console_heartbeat_s()
        while True:
            await asyncio.sleep(interval)
            try:
                await database_sync_to_async(services.agent_console_open)(
                    agent_id=self.user.pk, console=self.channel_name
                )
            except Exception:
                logger.exception("console heartbeat failed")

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the consumer ended (a handler that raised never reaches disconnect), its console
            # stops beating and is closed.
            await self._console_gone()

    async def disconnect(self, code) -> None:
        await self._console_gone()
        await super().disconnect(code)

    async def _console_gone(self) -> None:
        task = getattr(self, "heartbeat_task", None)
        if task is not None:
            task.cancel()
        if not getattr(self, "console_open", False):
            return
        self.console_open = False
        try:
            left = await database_sync_to_async(services.agent_console_close)(
                agent_id=self.user.pk, console=self.channel_name
            )
        except Exception:
            logger.exception("console close failed")
            return
        if not left:
            # The agent's last console: after the grace, count them disconnected even where no beat
            # ticks (routing.tick sweeps as well; a sweep that finds nothing due does nothing).
            asyncio.get_running_loop().call_later(
                routing_console_grace_s() + 0.2, lambda: asyncio.ensure_future(_consoles_sweep())
            )

    def _conversation(self, conversation_id: int):
        """The conversation if this user may see it (selectors.conversation_visible_to); "not_found"
        either way, so ids cannot be probed."""
        from imsubsystem.models import Conversation

        try:
            conversation = Conversation.objects.only("id", "assignee_id", "queue_id", "status").get(pk=conversation_id)
        except (Conversation.DoesNotExist, TypeError, ValueError):
            raise SwitchError("not_found") from None
        if not selectors.conversation_visible_to(user=self.user, conversation=conversation):
            raise SwitchError("not_found")
        return conversation

    def _visible(self, conversation_id: int) -> bool:
        try:
            self._conversation(conversation_id)
        except SwitchError:
            return False
        return True

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            await self.send_frame({"type": "pong"})
            return
        if kind == "typing":
            conversation_id = frame.get("conversation_id")
            if conversation_id is None:
                raise SwitchError("invalid", "conversation_id is required.")
            if group_conversation(conversation_id) not in self.groups_joined:
                raise SwitchError("not_found")
            await services.typing_publish(
                conversation_id=conversation_id,
                sender={"kind": SenderKind.AGENT, "name": selectors.user_display_name(self.user), "id": self.user.pk},
                active=frame["active"],
                origin=self.channel_name,
            )
            return
        if kind == "resume":
            await self._resume(frame)
            return
        step = getattr(self, "_step_" + kind.replace(".", "_"))
        await self.apply(await database_sync_to_async(self.run_step)(step, frame))

    @staticmethod
    def _required(frame: dict[str, Any], field: str) -> Any:
        if field not in frame:
            raise SwitchError("invalid", f"{field} is required.")
        return frame[field]

    def _step_message_send(self, frame: dict[str, Any]) -> Reply:
        conversation = self._conversation(self._required(frame, "conversation_id"))
        # The same bucket as this user's messages from the console's HTTP API and other sockets.
        message_rate_check(identity=agent_identity(self.user.pk))
        message, created = services.message_send(
            conversation_id=conversation.pk,
            sender_kind=SenderKind.AGENT,
            sender_user_id=self.user.pk,
            text=frame.get("text", ""),
            client_id=frame["client_id"],
            attachment_ids=frame.get("attachment_ids", ()),
            private=frame.get("private", False),
        )
        return Reply(
            [{"type": "message.ack", "client_id": frame["client_id"], "message": message, "duplicate": not created}]
        )

    async def _resume(self, frame: dict[str, Any]) -> None:
        """Authorise, then subscribe, then replay. The access check comes before the socket joins the
        conversation's group, so no frame of a conversation the user may not see ever reaches it; the
        join comes before the history is read, so nothing committed in between is missed (duplicates
        are dropped by seq). The replay checks access again, in case it was lost in between."""
        conversation_id = self._required(frame, "conversation_id")
        if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
            raise SwitchError("invalid", "conversation_id must be an integer.")
        group = group_conversation(conversation_id)
        if group not in self.groups_joined:
            await database_sync_to_async(self._conversation)(conversation_id)
            await self.join(group)
        try:
            reply = await database_sync_to_async(self.run_step)(self._step_resume, frame)
        except SwitchError:
            await self.leave(group)
            raise
        await self.apply(reply)

    def _step_resume(self, frame: dict[str, Any]) -> Reply:
        conversation = self._conversation(frame["conversation_id"])
        frames = [
            {"type": "message.new", "message": m}
            for m in selectors.messages_after(
                conversation_id=conversation.pk, after_seq=frame["after_seq"], include_private=True
            )
        ]
        last_seq = frames[-1]["message"]["seq"] if frames else max(0, frame["after_seq"])
        frames.append({"type": "resume.done", "conversation_id": conversation.pk, "last_seq": last_seq})
        return Reply(frames)

    def _step_read(self, frame: dict[str, Any]) -> Reply:
        conversation = self._conversation(self._required(frame, "conversation_id"))
        services.conversation_read_mark(conversation_id=conversation.pk, by="agent", up_to_seq=frame["up_to_seq"])
        return Reply()

    def _ok(self, command: str, conversation_id: int | None = None) -> Reply:
        return Reply([{"type": "ok", "command": command, "conversation_id": conversation_id}])

    def _step_offer_accept(self, frame: dict[str, Any]) -> Reply:
        services.offer_answer(offer_id=frame["offer_id"], agent_id=self.user.pk, accept=True)
        return self._ok("offer.accept")

    def _step_offer_reject(self, frame: dict[str, Any]) -> Reply:
        services.offer_answer(offer_id=frame["offer_id"], agent_id=self.user.pk, accept=False)
        return self._ok("offer.reject")

    def _step_presence_set(self, frame: dict[str, Any]) -> Reply:
        services.agent_presence_set(agent_id=self.user.pk, status=frame["status"])
        return self._ok("presence.set")

    def _step_conversation_transfer(self, frame: dict[str, Any]) -> Reply:
        conversation = self._conversation(frame["conversation_id"])
        services.conversation_transfer(
            conversation_id=conversation.pk,
            by_user_id=self.user.pk,
            queue_id=frame.get("queue_id"),
            agent_id=frame.get("agent_id"),
        )
        return self._ok("conversation.transfer", conversation.pk)

    def _step_conversation_close(self, frame: dict[str, Any]) -> Reply:
        conversation = self._conversation(frame["conversation_id"])
        services.conversation_close(
            conversation_id=conversation.pk, by_user_id=self.user.pk, wrap_up=frame.get("wrap_up", "")
        )
        return self._ok("conversation.close", conversation.pk)

    def _step_conversation_pick(self, frame: dict[str, Any]) -> Reply:
        services.conversation_pick(conversation_id=frame["conversation_id"], agent_id=self.user.pk)
        return self._ok("conversation.pick", frame["conversation_id"])

    async def deliver(self, frame: dict[str, Any], *, hide_from_customer: bool) -> None:
        """Group membership follows the visibility rule: joined when a conversation becomes this user's,
        checked again whenever a watched conversation changes hands, queue or status, and left (the frame
        withheld) once the user may no longer see it."""
        kind = frame["type"]
        if kind == "conversation.assigned":
            conversation_id = frame["conversation"]["id"]
            if frame["agent"].get("id") == self.user.pk:
                await self.join(group_conversation(conversation_id))
            elif frame["previous_agent_id"] == self.user.pk:
                await self._stay_if_visible(conversation_id)
        elif kind == "conversation.released":
            await self._stay_if_visible(frame["conversation_id"])
        elif kind == "conversation.status" and frame["status"] == "bot" and not self.supervises:
            # Back with the bot (a closed conversation the customer reopened): no agent holds it, so it
            # leaves this agent's "Mine" list (the console drops it on this frame) and their feed.
            await self.send_frame(frame)
            await self.leave(group_conversation(frame["conversation_id"]))
            return
        elif kind == "conversation.status" and not await self._stay_if_visible(frame["conversation_id"]):
            return
        await self.send_frame(await self.personalized(frame))

    async def _stay_if_visible(self, conversation_id: int) -> bool:
        group = group_conversation(conversation_id)
        if group not in self.groups_joined:
            return False
        if await database_sync_to_async(self._visible)(conversation_id):
            return True
        await self.leave(group)
        return False


class SupervisorConsumer(StaffSocket):
    commands = SUPERVISOR_COMMANDS

    def _step_open(self) -> Reply | None:
        if not self.user.has_perm("imsubsystem.supervise"):
            return None
        ready = {
            "type": "supervisor.ready",
            "user": {"id": self.user.pk, "name": selectors.user_display_name(self.user)},
        }
        return Reply([ready, selectors.queue_stats_for(user=self.user)], join=[group_supervisors()])

    async def apply(self, reply: Reply) -> None:
        await super().apply(reply)
        if group_supervisors() in self.groups_joined and getattr(self, "stats_task", None) is None:
            self.stats_task = asyncio.ensure_future(self._stats_loop())

    async def _stats_loop(self) -> None:
        interval = settings.IM_QUEUE_STATS_INTERVAL_S
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send_frame(await database_sync_to_async(selectors.queue_stats_for)(user=self.user))
            except Exception:
                logger.exception("queue.stats snapshot failed")

    async def disconnect(self, code) -> None:
        task = getattr(self, "stats_task", None)
        if task is not None:
            task.cancel()
        await super().disconnect(code)

    async def handle(self, frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def deliver(self, frame: dict[str, Any], *, hide_from_customer: bool) -> None:
        # The supervisors' group hears every agent's presence; each socket passes on its teams' agents only.
        if frame["type"] == "presence" and not await database_sync_to_async(selectors.agent_visible_to)(
            user=self.user, agent_id=frame["agent_id"]
        ):
            return
        await super().deliver(frame, hide_from_customer=hide_from_customer)
