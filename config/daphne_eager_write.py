"""Frames written to a socket at the end of the loop's turn, without registering the socket with epoll.

Twisted's TCP transport buffers every `write` and registers the socket for writability with the event
loop (`startWriting`: asyncio's `add_writer`, an `epoll_ctl` system call); when epoll says writable, it
sends and removes the registration (`stopWriting`: another `epoll_ctl`). Daphne serves WebSockets on that
transport, so every frame to every socket cost two `epoll_ctl` calls and a turn of the loop through the
selector, which profiles of the relay benchmark showed as a large share of the event loop
(docs/performance.md). asyncio's own transports do better: they try the send at once and register only
when the kernel's buffer is full.

`install()` gives Twisted's TCP connections that behaviour, keeping Twisted's buffering: a write appends
to the connection's buffer as before and, instead of registering, schedules one flush for the end of the
loop's turn (`call_soon`), so the frames written to one socket in one turn still leave in one `send`. The
flush runs the transport's own `doWrite` through the reactor's own error handling (a failed send
disconnects as before). Only what the kernel does not take is left to the epoll registration, as Twisted
always did. A connection already registered (a buffer the kernel refused, or a close in progress) is left
to Twisted's own path.

It depends on Twisted internals (`FileDescriptor._tempDataBuffer`, `_tempDataLen`, `_maybePauseProducer`,
the asyncio reactor's `_writers`, `_asyncioEventloop` and `_readOrWrite`). `install` checks that they are
all there and leaves Twisted unchanged, with a warning in the log, if an upgrade removed any;
tests/config/test_eager_write.py fails when the behaviour is lost (it counts the loop's `add_writer`
calls for frames sent to a live socket).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_INSTALLED = False


_SUPPORTED: dict[type, bool] = {}


def _reactor_supported(reactor) -> bool:
    kind = type(reactor)
    if kind not in _SUPPORTED:
        _SUPPORTED[kind] = all(hasattr(reactor, name) for name in ("_writers", "_asyncioEventloop", "_readOrWrite"))
    return _SUPPORTED[kind]


def _write(self, data: bytes) -> None:
    reactor = self.reactor
    if type(data) is not bytes or not data or not self.connected or self._writeDisconnected:
        return _TWISTED_WRITE(self, data)  # Twisted's own checks and refusals
    if not _reactor_supported(reactor):
        return _TWISTED_WRITE(self, data)
    self._tempDataBuffer.append(data)
    self._tempDataLen += len(data)
    self._maybePauseProducer()
    if self in reactor._writers:
        return None  # registered already: epoll drains the buffer, as in Twisted
    if not self.__dict__.get("_switchboard_flush_due"):
        self._switchboard_flush_due = True
        reactor._asyncioEventloop.call_soon(_flush, self)
    return None


def _unsent(self) -> bool:
    return bool(self._tempDataLen) or len(self.dataBuffer) > self.offset


def _flush(self) -> None:
    self._switchboard_flush_due = False
    reactor = self.reactor
    if not self.connected or self in reactor._writers:
        return
    if not _unsent(self):
        return
    reactor._readOrWrite(self, False)  # doWrite with the reactor's own handling of a failed send
    if self.connected and _unsent(self):
        self.startWriting()  # the kernel's buffer is full: wait for writability, as Twisted always did


def install() -> bool:
    """Give Twisted's TCP connections the eager write. Idempotent; False (Twisted unchanged) when the
    internals it uses are missing."""
    global _INSTALLED, _TWISTED_WRITE
    if _INSTALLED:
        return True
    from twisted.internet import abstract, tcp

    needed = ("_tempDataBuffer", "_tempDataLen", "_maybePauseProducer", "doWrite", "dataBuffer", "offset")
    probe = abstract.FileDescriptor
    missing = [name for name in needed if not hasattr(probe, name) and name not in probe.__init__.__code__.co_names]
    if missing:
        logger.warning("Twisted's transport changed (%s missing): frames are written the Twisted way.", missing)
        return False
    _TWISTED_WRITE = tcp.Connection.write
    tcp.Connection.write = _write
    _INSTALLED = True
    return True


def installed() -> bool:
    return _INSTALLED


_TWISTED_WRITE = None
