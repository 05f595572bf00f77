"""WebSocket reads skip autobahn's debug-line formatting unless debug logging is on
(config/autobahn_receive.py); config/asgi.py installs it (tests/config/test_eager_write.py checks the
install in a process that imports the app as daphne does)."""

from __future__ import annotations

from autobahn.twisted import websocket
from txaio.tx import _no_op

from config import autobahn_receive


class Socket:
    def __init__(self, debug):
        self.log = type("Log", (), {})()
        self.log.debug = debug
        self.received: list[bytes] = []

    def _dataReceived(self, data: bytes) -> None:
        self.received.append(data)


def test_a_read_formats_nothing_when_debug_logging_is_off(monkeypatch):
    assert autobahn_receive.install()

    def formatted(*args, **kwargs):
        raise AssertionError("a debug line was formatted with debug logging off")

    monkeypatch.setattr(websocket, "hlval", formatted)
    monkeypatch.setattr(websocket, "hltype", formatted)
    socket = Socket(debug=_no_op)
    websocket.WebSocketAdapterProtocol.dataReceived(socket, b"frame")
    assert socket.received == [b"frame"]


def test_with_debug_logging_on_autobahn_logs_the_read_as_before():
    assert autobahn_receive.install()
    lines = []
    socket = Socket(debug=lambda *args, **kwargs: lines.append(kwargs))
    socket.peer = "tcp:127.0.0.1:1"
    socket.dataReceived = socket._dataReceived  # what autobahn names in its line
    websocket.WebSocketAdapterProtocol.dataReceived(socket, b"frame")
    assert socket.received == [b"frame"]
    assert lines and "data_len" in lines[0]


class Sender:
    """What autobahn's sendData touches on a server protocol."""

    STATE_OPEN, STATE_CONNECTING, STATE_PROXY_CONNECTING = 3, 1, 5
    logOctets = False

    def __init__(self, debug):
        self.log = type("Log", (), {})()
        self.log.debug = debug
        self.state = self.STATE_OPEN
        self.send_queue: list = []
        self.trafficStats = type("Stats", (), {"outgoingOctetsWireLevel": 0})()
        self.peer = "tcp:127.0.0.1:1"
        self.written: list[bytes] = []
        self.transport = type("Transport", (), {"write": lambda _, data: self.written.append(data)})()


def test_a_write_formats_nothing_when_debug_logging_is_off(monkeypatch):
    from autobahn.websocket import protocol

    assert autobahn_receive.install()

    def formatted(*args, **kwargs):
        raise AssertionError("a debug line was formatted with debug logging off")

    monkeypatch.setattr(protocol, "hlval", formatted)
    monkeypatch.setattr(protocol, "hltype", formatted)
    socket = Sender(debug=_no_op)
    protocol.WebSocketProtocol.sendData(socket, b"frame")
    assert socket.written == [b"frame"]
    assert socket.trafficStats.outgoingOctetsWireLevel == 5


def test_with_debug_logging_on_autobahn_logs_the_write_as_before():
    from autobahn.websocket import protocol

    assert autobahn_receive.install()
    lines = []
    socket = Sender(debug=lambda *args, **kwargs: lines.append(kwargs))
    socket.sendData = lambda *args: None  # what autobahn names in its line
    protocol.WebSocketProtocol.sendData(socket, b"frame")
    assert socket.written == [b"frame"]
    assert lines and lines[0]["data_len"]
