"""The supervisors' sockets, both `StaffSocket`s scoped to the user's teams and fed by the supervisor app's
one statistics service (supervisor.stats, MySQL through a ~1 s shared cache, never this process's memory,
so every daphne process sends the same figures):

- /ws/v1/supervisor/ (docs/protocol.md): `supervisor.ready`, then CONTRACT's `queue.stats` at once and
  every IM_QUEUE_STATS_INTERVAL_S, and `presence` frames of the user's teams' agents.
- /ws/v1/supervisor/live/ (docs/supervisor.md, an extension of the protocol): `supervisor.ready`, then a
  `supervisor.snapshot` at once and again every second whenever it changed (longest waits change every
  second while anyone waits), and at least every 10 s otherwise.

The client may send `{"type": "ping"}` on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from imsubsystem import selectors
from imsubsystem.events import SUPERVISOR_COMMANDS, group_supervisors
from interface.sockets.base import Reply
from interface.sockets.staff import StaffSocket
from supervisor import stats
from supervisor.selectors import user_may_supervise

logger = logging.getLogger(__name__)


def _ready(user) -> dict[str, Any]:
    return {"type": "supervisor.ready", "user": {"id": user.pk, "name": selectors.user_display_name(user)}}


class SupervisorConsumer(StaffSocket):
    """/ws/v1/supervisor/: queue.stats snapshots on a timer, and the presence of the user's teams' agents."""

    commands = SUPERVISOR_COMMANDS

    def _step_open(self) -> Reply | None:
        if not self.user.has_perm("imsubsystem.supervise"):
            return None
        return Reply([_ready(self.user), stats.queue_stats_frame(user=self.user)], join=[group_supervisors()])

    async def apply(self, reply: Reply) -> None:
        await super().apply(reply)
        if group_supervisors() in self.groups_joined and getattr(self, "stats_task", None) is None:
            self.stats_task = asyncio.ensure_future(self._stats_loop())

    async def _stats_loop(self) -> None:
        interval = settings.IM_QUEUE_STATS_INTERVAL_S
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send_frame(await database_sync_to_async(stats.queue_stats_frame)(user=self.user))
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


class SupervisorLiveConsumer(StaffSocket):
    """/ws/v1/supervisor/live/: the staff socket's admission (logged in, this site's page) and frame
    handling (ping only), then a snapshot loop woken by the supervisors' group."""

    commands = SUPERVISOR_COMMANDS
    forbidden_detail = "Only supervisors and admins may watch the queues."

    async def on_open(self) -> None:
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        await super().on_open()

    def _step_open(self) -> Reply | None:
        if not user_may_supervise(self.user):
            return None
        # The switch publishes presence changes to this group: they wake the loop for a prompt snapshot.
        return Reply([_ready(self.user)], join=[group_supervisors()])

    async def apply(self, reply: Reply) -> None:
        await super().apply(reply)
        if group_supervisors() in self.groups_joined and self.task is None:
            self.task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        interval = getattr(settings, "SUPERVISOR_LIVE_INTERVAL_S", 1.0)
        heartbeat = getattr(settings, "SUPERVISOR_LIVE_HEARTBEAT_S", 10.0)
        last_body = None
        last_sent = 0.0
        while True:
            try:
                snapshot = await database_sync_to_async(stats.queue_stats_snapshot)(user=self.user)
                body = {k: v for k, v in snapshot.items() if k != "at"}
                if body != last_body or time.monotonic() - last_sent >= heartbeat:
                    await self.send_frame(snapshot)
                    last_body, last_sent = body, time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Supervisor snapshot failed")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=interval)

    async def sb_event(self, event: dict[str, Any]) -> None:
        self.wake.set()

    async def sb_layer_reset(self, event: dict[str, Any]) -> None:
        # Events may have been lost: the next snapshot is read whole from the database anyway.
        self.wake.set()

    async def handle(self, frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def disconnect(self, code) -> None:
        task = getattr(self, "task", None)
        if task is not None:
            task.cancel()
        await super().disconnect(code)
