"""The staff sockets' one admission (`StaffSocket`): the agent console's /ws/v1/agent/ and both supervisor
sockets are cookie-authenticated, so each needs a logged-in user and a page of this site (the origin
check) before its own admission (`_step_open`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings

from crm.roles import ROLES
from imsubsystem.events import error_frame
from interface.sockets.base import CLOSE_AUTH_FAILED, CLOSE_FORBIDDEN, Reply, SwitchSocket, header


def _staff_origin_allowed(scope) -> bool:
    """Cookie-authenticated sockets refuse other sites' pages (cross-site WebSocket hijacking)."""
    origin = header(scope, b"origin")
    if not origin:
        return True
    host = header(scope, b"host") or ""
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
