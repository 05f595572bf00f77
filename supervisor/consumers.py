"""/ws/v1/supervisor/live/: the dashboard's live snapshots, limited to the user's teams.

An extension of the protocol beside /ws/v1/supervisor/ (docs/supervisor.md). The server sends
`supervisor.ready`, then a `supervisor.snapshot` at once and again every second whenever it changed
(longest waits change every second while anyone waits), and at least every 10 s otherwise. The client may
send `{"type": "ping"}`. Snapshots come from supervisor.stats (MySQL through a ~1 s shared cache), never
from this process's memory, so every daphne process sends the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from imsubsystem.consumers import ForgetsItsChannel, SendsWhileOpen
from imsubsystem.events import group_supervisors
from supervisor import stats
from supervisor.selectors import user_may_supervise

logger = logging.getLogger(__name__)

CLOSE_AUTH_FAILED = 4401
CLOSE_FORBIDDEN = 4403


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope) -> bool:
    """A cookie-authenticated socket refuses other sites' pages (cross-site WebSocket hijacking)."""
    origin = _header(scope, b"origin")
    if not origin:
        return True
    if urlsplit(origin).netloc == (_header(scope, b"host") or ""):
        return True
    return origin.rstrip("/") in [o.rstrip("/") for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])]


class SupervisorLiveConsumer(ForgetsItsChannel, SendsWhileOpen, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.task: asyncio.Task | None = None
        self.wake = asyncio.Event()
        self.joined = False
        await self.accept()
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self._refuse("auth_required", "Log in first.", CLOSE_AUTH_FAILED)
            return
        if not origin_allowed(self.scope):
            await self._refuse("origin_not_allowed", "This page may not open the socket.", CLOSE_FORBIDDEN)
            return
        if not await database_sync_to_async(user_may_supervise)(self.user):
            await self._refuse("forbidden", "Only supervisors and admins may watch the queues.", CLOSE_FORBIDDEN)
            return
        # The switch publishes presence changes to this group: they wake the loop for a prompt snapshot.
        await self.channel_layer.group_add(group_supervisors(), self.channel_name)
        self.joined = True
        await self._send({"type": "supervisor.ready", "user": {"id": self.user.pk}})
        self.task = asyncio.ensure_future(self._loop())

    async def _refuse(self, code: str, detail: str, close_code: int) -> None:
        await self._send({"type": "error", "code": code, "detail": detail})
        await self.close(code=close_code)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send_open(json.dumps(frame, separators=(",", ":")))

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
                    await self._send(snapshot)
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

    async def receive(self, text_data=None, bytes_data=None) -> None:
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            await self._send({"type": "error", "code": "bad_json", "detail": "The frame is not valid JSON."})
            return
        if isinstance(frame, dict) and frame.get("type") == "ping":
            await self._send({"type": "pong"})
            return
        await self._send({"type": "error", "code": "unknown_type", "detail": "This socket accepts only ping."})

    async def disconnect(self, code) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.joined:
            await self.channel_layer.group_discard(group_supervisors(), self.channel_name)
