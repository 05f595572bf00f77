"""A daphne process told to stop (SIGTERM) drains instead of dropping everything: a rolling restart loses
nothing and shows no customer an error.

Daphne leaves SIGTERM to Twisted, which stops the reactor at once: daphne cancels every connection's
application and the process exits, its sockets cut without a close frame while their frames may be half
handled. `install()` takes SIGTERM once the reactor runs (`callWhenRunning`, after Twisted installed its
own handlers) and drains instead:

1. the process says it is draining (core.lifecycle: `/healthz/ready` answers 503);
2. it stops listening (every `IListeningPort` the reactor reads from), so nginx's next connection
   attempt is refused and goes to another process (`proxy_next_upstream error`);
3. every open WebSocket is closed with 4012, "service restart" (1012 in the WebSocket registry, which
   daphne's WebSocket library refuses to send; docs/protocol.md): its client reconnects through nginx
   to another process and resumes, sending again what was not acknowledged (with the same client_id:
   stored once). A socket accepted during the drain (over one of nginx's kept-alive connections) is
   closed the same way at once, and every HTTP response says `Connection: close`, so nginx keeps no
   connection to this process;
4. the frame a socket was handling when it closed runs to its end, its batch committed (a socket's
   application ends only after its handler returns); once no connection's application is left, or
   after `DRAIN_SECONDS`, the reactor stops as on Twisted's own SIGTERM and the process exits 0.

A second SIGTERM while draining stops at once, as Twisted's handler did. Run under systemd,
`TimeoutStopSec` must exceed `DRAIN_SECONDS` (deploy/systemd/).

The connections are counted by `DrainMiddleware`, the outermost ASGI layer (config/asgi.py), so the
drain uses nothing of daphne's internals: only Twisted's public reactor interfaces (`callWhenRunning`,
`callFromThread`, `getReaders`, `stop`) and the ASGI messages. `install` leaves SIGTERM to Twisted, with a
warning in the log, when the reactor lacks one of them; under another ASGI server (no Twisted reactor
running) it does nothing and the middleware only counts. tests/config/test_drain.py fails when the
behaviour is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
import weakref
from typing import Any

from django.conf import settings

from core import lifecycle

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 4012  # interface/sockets/base.py: "service restart" in the application range
REACTOR_NEEDS = ("callWhenRunning", "callFromThread", "getReaders", "stop")

_INSTALLED = False
_live: weakref.WeakSet[_Connection] = weakref.WeakSet()
_drain_task: asyncio.Task | None = None


class _Connection:
    """One connection's application, as the drain sees it: its kind and its way to the client."""

    __slots__ = ("__weakref__", "_send", "accepted", "closed", "kind")

    def __init__(self, kind: str, send) -> None:
        self.kind = kind
        self._send = send
        self.accepted = False
        self.closed = False

    async def send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "http.response.start" and lifecycle.draining():
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        elif kind == "websocket.close":
            self.closed = True
        await self._send(message)
        if kind == "websocket.accept":
            self.accepted = True
            if lifecycle.draining():
                await self.close()

    @property
    def websocket_send_passes_to(self):
        """`send` passes `websocket.send` messages unchanged to this (interface/sockets/base.py's
        frames_send goes straight there)."""
        return self._send

    async def close(self) -> None:
        """Close an accepted WebSocket with 4012 (once); the application hears `websocket.disconnect`
        when the closing handshake is done, after the frame it is handling."""
        if self.kind != "websocket" or not self.accepted or self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # the client may be gone already
            await self._send({"type": "websocket.close", "code": CLOSE_SERVICE_RESTART})


class DrainMiddleware:
    """The outermost ASGI layer: counts each connection's application while it runs, and lets the drain
    close its WebSockets and mark its HTTP responses `Connection: close`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        connection = _Connection(scope["type"], send)
        _live.add(connection)
        try:
            return await self.app(scope, receive, connection.send)
        finally:
            _live.discard(connection)


def live() -> int:
    """Connections whose application still runs in this process."""
    return len(_live)


def _stop_listening(reactor) -> int:
    from twisted.internet.interfaces import IListeningPort

    ports = [reader for reader in reactor.getReaders() if IListeningPort.providedBy(reader)]
    for port in ports:
        with contextlib.suppress(Exception):
            port.stopListening()
    if not ports:
        logger.warning("Draining: no listening port found to close; new connections are still accepted.")
    return len(ports)


async def drain(reactor, seconds: float) -> None:
    """Close every WebSocket with 4012, wait until no connection's application is left (at most
    `seconds`), then stop the reactor."""
    started = time.monotonic()
    sockets = [c for c in list(_live) if c.kind == "websocket"]
    await asyncio.gather(*(c.close() for c in sockets), return_exceptions=True)
    deadline = started + seconds
    while _live and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        # A socket accepted since closes itself on accept; one still opening is closed here once accepted.
        await asyncio.gather(*(c.close() for c in list(_live)), return_exceptions=True)
    left = len(_live)
    if left:
        logger.warning("Drained for %.1f s; stopping with %d connection(s) still open.", seconds, left)
    else:
        logger.warning(
            "Drained in %.2f s (%d socket(s) closed with %d); stopping.",
            time.monotonic() - started,
            len(sockets),
            CLOSE_SERVICE_RESTART,
        )
    reactor.stop()


def drain_begin(reactor, seconds: float | None = None) -> bool:
    """Start the drain (on the reactor's thread). False, and nothing done, when it already runs."""
    global _drain_task
    if not lifecycle.drain_begin():
        return False
    seconds = float(settings.DRAIN_SECONDS if seconds is None else seconds)
    ports = _stop_listening(reactor)
    logger.warning("SIGTERM: draining (%d listening port(s) closed, %d connection(s) open).", ports, len(_live))
    _drain_task = asyncio.get_event_loop().create_task(drain(reactor, seconds))
    return True


def _on_sigterm(reactor, signum, frame) -> None:
    if lifecycle.draining():
        reactor.callFromThread(reactor.stop)  # a second SIGTERM: stop now
        return
    reactor.callFromThread(drain_begin, reactor)


def _take_sigterm(reactor) -> None:
    try:
        signal.signal(signal.SIGTERM, lambda signum, frame: _on_sigterm(reactor, signum, frame))
    except ValueError:  # not the main thread: the reactor runs embedded somewhere; leave SIGTERM alone
        logger.warning("The reactor runs outside the main thread: SIGTERM stops it without a drain.")


def install() -> bool:
    """Drain on SIGTERM once daphne's reactor runs. Idempotent; False (SIGTERM left to Twisted) when no
    Twisted reactor is installed or it lacks what the drain uses."""
    global _INSTALLED
    if _INSTALLED:
        return True
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None:
        return False  # not under daphne: importing the reactor here would install Twisted's default one
    missing = [name for name in REACTOR_NEEDS if not hasattr(reactor, name)]
    if missing:
        logger.warning("Twisted's reactor changed (%s missing): SIGTERM stops daphne without a drain.", missing)
        return False
    reactor.callWhenRunning(_take_sigterm, reactor)
    _INSTALLED = True
    return True


def installed() -> bool:
    return _INSTALLED
