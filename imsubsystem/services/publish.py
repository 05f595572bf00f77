"""The one publish point: every frame the switch sends leaves through `event_publish_on_commit` (after
the transaction commits) or, for typing, which is never stored, `typing_publish`.

In tests (settings.IM_FRAME_CHECK) every frame is checked against its declaration in frames.py here,
so an undeclared or malformed frame fails the test that made it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections import deque
from functools import partial
from typing import Any

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import transaction

from core.hooks import contracts_checked
from imsubsystem import selectors
from imsubsystem.events import group_conversation, server_frame_check
from imsubsystem.models import Conversation, ConversationStatus
from realtime import direct_layer, switch_layer

logger = logging.getLogger(__name__)


class _LoopPublisher:
    """Sends a process's events to the channel layer from its event loop.

    Services run in database_sync_to_async threads. Sending from there with async_to_sync would block
    the thread (and with it every other socket's database work in this process) for the Redis round
    trips of each event; instead the thread hands the event to the loop and goes on. Each group has
    its own drain task, so one conversation's frames leave in the order they were handed over (seq
    order) while different conversations' frames go out side by side.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = weakref.ref(loop)  # the publishers' map is keyed weakly by the loop: no strong way back
        self.pending: dict[str, deque[dict[str, Any]]] = {}
        # Events handed over by threads, pulled by the loop: one wake-up of the loop for everything a
        # batch's commit publishes, not one per event (a wake-up is a write to the loop's self-pipe and
        # a callback: 4% of the write path's thread at 1,000 msg/s when it was per event).
        self.incoming: list[tuple[str, dict[str, Any]]] = []
        self.incoming_lock = threading.Lock()
        self.pull_due = False
        # Bounded so a burst over thousands of conversations never asks Redis for thousands of
        # connections at once (redis-py raises MaxConnectionsError past its pool size).
        self.slots = asyncio.Semaphore(getattr(settings, "IM_PUBLISH_CONCURRENCY", 64))

    def hand_over_many(self, items: list[tuple[str, dict[str, Any]]]) -> None:  # any thread; kept in order
        with self.incoming_lock:
            self.incoming.extend(items)
            if self.pull_due:
                return
            self.pull_due = True
        loop = self.loop()
        if loop is not None:
            loop.call_soon_threadsafe(self.pull)

    def pull(self) -> None:  # runs in the loop's thread
        with self.incoming_lock:
            items, self.incoming = self.incoming, []
            self.pull_due = False
        direct = direct_layer(switch_layer())
        if direct is None:
            for group, event in items:
                self.push(group, event)
            return
        # A layer that keeps the order of its sends itself (realtime.DirectLayer): each event goes at once,
        # no task and no future per event (they were a tenth of the event loop at 2,000 msg/s).
        for group, event in items:
            try:
                direct.group_send_nowait(group, event)
            except Exception:
                logger.exception("Publishing %s to %s failed", event.get("frame", {}).get("type"), group)

    def push(self, group: str, event: dict[str, Any]) -> None:  # runs in the loop's thread
        queue = self.pending.get(group)
        if queue is not None:
            queue.append(event)
            return
        self.pending[group] = deque([event])
        asyncio.get_running_loop().create_task(self.drain(group))

    async def drain(self, group: str) -> None:
        layer = switch_layer()
        queue = self.pending[group]
        try:
            while queue:
                event = queue[0]
                try:
                    if layer.pipelined:
                        # Local members get it at once, whatever Redis is doing; no connection held.
                        await layer.group_send(group, event)
                    else:
                        async with self.slots:
                            await layer.group_send(group, event)
                except Exception:
                    # The layer is a fast path, not the record: clients recover the frame by seq + resume.
                    logger.exception("Publishing %s to %s failed", event.get("frame", {}).get("type"), group)
                queue.popleft()
        finally:
            del self.pending[group]


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPublisher] = weakref.WeakKeyDictionary()
_publishers_lock = threading.Lock()  # two threads (the batch's, Channels' database thread) may start it


def _calling_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop that called into this sync thread through sync_to_async, if any and still running."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() and not loop.is_closed() else None


def events_send(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Send (group, event) pairs now, in order: handed to the calling event loop in one go (a sync thread
    under sync_to_async), or published one by one where there is no loop (Celery, commands)."""
    layer = switch_layer()
    if layer is None or not items:
        return
    loop = _calling_loop()
    if loop is not None:
        publisher = _publishers.get(loop)
        if publisher is None:
            with _publishers_lock:
                publisher = _publishers.get(loop)
                if publisher is None:
                    publisher = _publishers[loop] = _LoopPublisher(loop)
        publisher.hand_over_many(items)
        return
    # Celery workers, commands and plain threads have no loop of their own to hand over to.
    for group, event in items:
        try:
            layer.group_send_blocking(group, event)
        except Exception:
            logger.exception("Publishing %s to %s failed", event.get("frame", {}).get("type"), group)


def _group_send(group: str, event: dict[str, Any]) -> None:
    events_send([(group, event)])


def sb_event(
    *, group: str, frame: dict[str, Any], hide_from_customer: bool = False, origin: str | None = None
) -> dict[str, Any]:
    """The channel layer's message carrying `frame` to `group`'s sockets (checked against frames.py in
    the tests).

    hide_from_customer: customer sockets drop the frame (a private message.new becomes message.hidden).
    origin: the sending socket's channel name, which skips its own echo.
    """
    if contracts_checked():
        server_frame_check(frame)
    # `group` lets a socket drop a frame of a conversation it left while the frame waited in its queue.
    return {
        "type": "sb.event",
        "frame": frame,
        "hide_from_customer": hide_from_customer,
        "origin": origin,
        "group": group,
    }


def event_publish_on_commit(
    *, group: str, frame: dict[str, Any], hide_from_customer: bool = False, origin: str | None = None
) -> None:
    """Send `frame` to a channel-layer group once the current transaction commits (at once outside one);
    the arguments are sb_event's. A batch of messages publishes its frames with one commit callback
    instead (services/messages.py)."""
    event = sb_event(group=group, frame=frame, hide_from_customer=hide_from_customer, origin=origin)
    transaction.on_commit(partial(_group_send, group, event), robust=True)


def status_frame(conversation: Conversation, *, queue_info: dict | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "conversation.status",
        "conversation_id": conversation.pk,
        "status": conversation.status,
        "version": conversation.status_version,
    }
    if queue_info is not None:
        frame["queue"] = queue_info
    if conversation.status == ConversationStatus.ASSIGNED and conversation.assignee_id:
        assignee = conversation.assignee or selectors.user_get(user_id=conversation.assignee_id)
        frame["agent"] = {"name": selectors.user_display_name(assignee)}
    return frame


def publish_status(conversation: Conversation, *, queue_info: dict | None = None) -> None:
    """A status move: bump the conversation's status_version (its row is locked by the caller, so the
    versions follow the commit order) and publish the frame carrying it after commit."""
    conversation.status_version += 1
    conversation.save(update_fields=["status_version"])
    event_publish_on_commit(
        group=group_conversation(conversation.pk), frame=status_frame(conversation, queue_info=queue_info)
    )


async def typing_publish(
    *, conversation_id: int, sender: dict[str, Any], active: bool, origin: str | None = None
) -> None:
    """Typing is never stored and touches no database: the socket awaits this directly (no thread hop),
    one frame to the conversation's group, skipping the typing socket itself."""
    layer = switch_layer()
    frame = {"type": "typing", "conversation_id": conversation_id, "active": bool(active), "sender": sender}
    if contracts_checked():
        server_frame_check(frame)
    group = group_conversation(conversation_id)
    try:
        await layer.group_send(
            group, {"type": "sb.event", "frame": frame, "hide_from_customer": False, "origin": origin, "group": group}
        )
    except Exception:
        logger.exception("Publishing typing to conversation %s failed", conversation_id)
