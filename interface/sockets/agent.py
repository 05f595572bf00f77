"""/ws/v1/agent/: the agent console's socket (docs/protocol.md, docs/interface.md).

Presence follows the console: an open socket counts the agent connected (routing offers work only to
agents with a live console) and beats while it lives. Group membership follows the one visibility rule
(imsubsystem.selectors.conversation_visible_to): joined when a conversation becomes the user's, left
once they may no longer see it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from crm.roles import user_roles
from imsubsystem import selectors, services
from imsubsystem.batching import message_batcher
from imsubsystem.events import AGENT_COMMANDS, group_agent, group_agents_of_queue, group_conversation
from imsubsystem.models import Conversation, SenderKind
from imsubsystem.services import SwitchError
from interface.sockets.base import Reply
from interface.sockets.staff import StaffSocket

logger = logging.getLogger(__name__)


def routing_console_heartbeat_s() -> float:
    return float(getattr(settings, "ROUTING_CONSOLE_HEARTBEAT_S", 10.0))


def routing_console_grace_s() -> float:
    return float(getattr(settings, "ROUTING_CONSOLE_GRACE_S", 30.0))


async def _consoles_sweep() -> None:
    try:
        await database_sync_to_async(services.agent_consoles_sweep)()
    except Exception:
        logger.exception("console sweep failed")


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
            # Unread mentions persist (imsubsystem/services/notifications.py): a reconnect shows them again.
            "notifications": selectors.notifications_for(user_id=self.user.pk, unread_only=True),
            "notifications_unread": selectors.notifications_unread_count(user_id=self.user.pk),
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

    def _conversation(self, conversation_id: int, *, acting: bool = False):
        """The conversation if this user may see it (selectors.conversation_visible_to; with `acting`,
        act on it: a mention lets one see, not transfer, close or mark read); "not_found" either way, so
        ids cannot be probed."""
        try:
            conversation = Conversation.objects.only("id", "assignee_id", "queue_id", "status").get(pk=conversation_id)
        except (Conversation.DoesNotExist, TypeError, ValueError):
            raise SwitchError("not_found") from None
        if not selectors.conversation_visible_to(user=self.user, conversation=conversation, acting=acting):
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
        if kind == "message.send":
            await self._message_send(frame)
            return
        step = getattr(self, "_step_" + kind.replace(".", "_"))
        await self.apply(await database_sync_to_async(self.run_step)(step, frame))

    @staticmethod
    def _required(frame: dict[str, Any], field: str) -> Any:
        if field not in frame:
            raise SwitchError("invalid", f"{field} is required.")
        return frame[field]

    async def _message_send(self, frame: dict[str, Any]) -> None:
        """Stored together with the other sockets' messages of this process (imsubsystem/batching.py,
        which checks the conversation is this user's to touch and takes the message from the user's
        bucket, the same as their messages from the console's HTTP API and other sockets)."""
        result = await message_batcher().submit(
            {
                "kind": "agent",
                "user": self.user,
                "user_id": self.user.pk,
                "conversation_id": self._required(frame, "conversation_id"),
                "text": frame.get("text", ""),
                "client_id": frame["client_id"],
                "attachment_ids": frame.get("attachment_ids", ()),
                "private": frame.get("private", False),
                "mentions": frame.get("mentions") or [],
                "viewer": self.viewer,
                "origin": self.channel_name,  # the ack below carries the message: no message.new to this socket
            }
        )
        if "error" in result:
            raise SwitchError(result["error"], result["detail"], retry_after_s=result.get("retry_after_s"))
        await self.send_frame(
            {
                "type": "message.ack",
                "client_id": frame["client_id"],
                "message": result["message"],
                "duplicate": not result["created"],
            }
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
        conversation = self._conversation(self._required(frame, "conversation_id"), acting=True)
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
        conversation = self._conversation(frame["conversation_id"], acting=True)
        services.conversation_transfer(
            conversation_id=conversation.pk,
            by_user_id=self.user.pk,
            queue_id=frame.get("queue_id"),
            agent_id=frame.get("agent_id"),
            note=frame.get("note", ""),
        )
        return self._ok("conversation.transfer", conversation.pk)

    def _step_conversation_close(self, frame: dict[str, Any]) -> Reply:
        conversation = self._conversation(frame["conversation_id"], acting=True)
        services.conversation_close(
            conversation_id=conversation.pk,
            by_user_id=self.user.pk,
            wrap_up=frame.get("wrap_up", ""),
            reason_code=frame.get("reason_code") or None,
        )
        return self._ok("conversation.close", conversation.pk)

    def _step_notification_read(self, frame: dict[str, Any]) -> Reply:
        services.notifications_read_mark(user_id=self.user.pk, notification_ids=frame["notification_ids"])
        return self._ok("notification.read")

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
