"""/ws/v1/widget/: the customer widget's socket (docs/protocol.md).

A customer authenticates with a widget session token within AUTH_TIMEOUT_S, then speaks for their own
conversation only: messages (batched with other sockets' into one open conversation), typing, read
marks and resume. Frames of the conversation's group arrive filtered for a customer (private notes
become `message.hidden`, replayed frames are not sent twice).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async

from imsubsystem import auth, selectors, services
from imsubsystem.batching import message_batcher
from imsubsystem.events import WIDGET_COMMANDS, error_frame, group_conversation, group_widget_session
from imsubsystem.models import SenderKind
from imsubsystem.ratelimit import customer_identity, message_rate_check
from imsubsystem.services import SwitchError
from interface.sockets.base import CLOSE_AUTH_FAILED, CLOSE_SERVICE_RESTART, Reply, SwitchSocket, header

logger = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10


class WidgetConsumer(SwitchSocket):
    commands = WIDGET_COMMANDS

    async def on_open(self) -> None:
        self.session: dict[str, Any] | None = None
        self.conversation_id: int | None = None
        self.sent_seq: dict[int, int] = {}  # conversation id -> highest seq this socket sent in a replay
        self.auth_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            AUTH_TIMEOUT_S, self._auth_timeout
        )

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
        result = await message_batcher().submit(
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
        origin = header(self.scope, b"origin")
        host = header(self.scope, b"host")
        # Authorise, then subscribe, then replay.
        result = await database_sync_to_async(self._step_auth)(frame["token"], origin, host)
        if isinstance(result, dict) and result.get("type") == "error":
            await self._refuse(result)
            return
        self.session = result
        self.viewer = f"customer:{result['contact_id']}"
        if self.auth_timer is not None:
            # Dropped, not only cancelled: the socket may stay open for hours, holding nothing it needs.
            self.auth_timer.cancel()
            self.auth_timer = None
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
