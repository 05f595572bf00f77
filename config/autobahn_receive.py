"""Bytes received and sent on a WebSocket go through autobahn without building a debug line first.

autobahn formats values for a debug log line, coloured with click (`hltype`, `hlval`), before calling
the logger, which drops it unless debug logging is on: on every read, in its Twisted adapter
(`WebSocketAdapterProtocol.dataReceived`, under every socket daphne serves), and on every write
(`WebSocketProtocol.sendData`). Profiles of the relay benchmark put the reads' formatting at about a
tenth of the event loop's time, and the writes' at 2.4% of the daphne process at 2,000 msg/s
(docs/performance.md). `install()` replaces both methods with ones that do what autobahn does without
the line when the logger's debug level is off (txaio binds `debug` to its no-op then) and call
autobahn's own method, log line and all, when it is on, or for any write autobahn queues (a synchronous
or chopped write, a queue not empty, octet logging).

It depends on autobahn's `_dataReceived`, `send_queue`, `trafficStats` and states, and txaio's `_no_op`;
`install` checks them and leaves autobahn unchanged, with a warning in the log, if an upgrade removed
any. tests/config/test_autobahn_receive.py fails when the behaviour is lost.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_AUTOBAHN = None
_AUTOBAHN_SEND = None
_NO_OP = None


def _data_received(self, data: bytes) -> None:
    if self.log.debug is not _NO_OP:
        return _AUTOBAHN(self, data)  # debug logging on: autobahn's own method, its log line included
    self._dataReceived(data)
    return None


def _send_data(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
    if sync or chopsize or self.send_queue or self.logOctets or self.log.debug is not _NO_OP:
        return _AUTOBAHN_SEND(self, data, sync, chopsize)  # queued, chopped or logged: autobahn's own
    self.transport.write(data)
    if self.state == self.STATE_OPEN:
        self.trafficStats.outgoingOctetsWireLevel += len(data)
    elif self.state in (self.STATE_CONNECTING, self.STATE_PROXY_CONNECTING):
        self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)
    return None


def install() -> bool:
    """Idempotent; False (autobahn unchanged) when the internals it uses are missing."""
    global _AUTOBAHN, _AUTOBAHN_SEND, _NO_OP
    from autobahn.twisted.websocket import WebSocketAdapterProtocol
    from autobahn.websocket.protocol import WebSocketProtocol

    if WebSocketAdapterProtocol.dataReceived is _data_received:
        return True
    try:
        from txaio.tx import _no_op
    except ImportError:
        _no_op = None
    needed = ("_dataReceived", "sendData", "STATE_OPEN", "STATE_CONNECTING", "STATE_PROXY_CONNECTING")
    if _no_op is None or not all(hasattr(WebSocketProtocol, name) for name in needed):
        logger.warning("autobahn or txaio changed: WebSocket reads and writes keep autobahn's debug formatting.")
        return False
    sender = WebSocketProtocol.sendData.__code__.co_names
    if not all(name in sender for name in ("send_queue", "trafficStats", "logOctets", "outgoingOctetsWireLevel")):
        logger.warning("autobahn changed its sendData: WebSocket writes keep autobahn's debug formatting.")
    else:
        _AUTOBAHN_SEND = WebSocketProtocol.sendData
        WebSocketProtocol.sendData = _send_data
    _AUTOBAHN, _NO_OP = WebSocketAdapterProtocol.dataReceived, _no_op
    WebSocketAdapterProtocol.dataReceived = _data_received
    return True
