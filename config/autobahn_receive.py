"""Bytes received on a WebSocket go to autobahn's frame parser without building a debug line first.

autobahn's Twisted adapter (`WebSocketAdapterProtocol.dataReceived`, under every socket daphne serves)
formats three values for a debug log line on every read, coloured with click (`hltype`, `hlval`), before
calling the logger, which drops it unless debug logging is on. Profiles of the relay benchmark put that
formatting at about a tenth of the event loop's time (docs/performance.md). `install()` replaces the
method with one that goes straight to autobahn's own `_dataReceived` when the logger's debug level is
off (txaio binds `debug` to its no-op then) and keeps autobahn's method, log line and all, when it is on.

It depends on autobahn's `_dataReceived` and txaio's `_no_op`; `install` checks both and leaves autobahn
unchanged, with a warning in the log, if an upgrade removed either. tests/config/test_autobahn_receive.py
fails when the behaviour is lost.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_AUTOBAHN = None
_NO_OP = None


def _data_received(self, data: bytes) -> None:
    if self.log.debug is not _NO_OP:
        return _AUTOBAHN(self, data)  # debug logging on: autobahn's own method, its log line included
    self._dataReceived(data)
    return None


def install() -> bool:
    """Idempotent; False (autobahn unchanged) when the internals it uses are missing."""
    global _AUTOBAHN, _NO_OP
    from autobahn.twisted.websocket import WebSocketAdapterProtocol
    from autobahn.websocket.protocol import WebSocketProtocol

    if WebSocketAdapterProtocol.dataReceived is _data_received:
        return True
    try:
        from txaio.tx import _no_op
    except ImportError:
        _no_op = None
    if _no_op is None or not hasattr(WebSocketProtocol, "_dataReceived"):
        logger.warning("autobahn or txaio changed: WebSocket reads keep autobahn's own debug formatting.")
        return False
    _AUTOBAHN, _NO_OP = WebSocketAdapterProtocol.dataReceived, _no_op
    WebSocketAdapterProtocol.dataReceived = _data_received
    return True
