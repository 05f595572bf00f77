"""Twisted's TCP transport on the asyncio reactor, as daphne runs it, with or without the eager write
(config/daphne_eager_write.py): run by tests/config/test_eager_write.py in a process of its own (the
reactor is installed once per process). Not collected by the suite (its name is not test_*.py).

    python tests/config/eager_write_probe.py eager|twisted FRAMES BIG_BYTES

A server writes FRAMES small frames to a client in bursts of three per loop turn, then one BIG_BYTES
write (more than the kernel's socket buffer takes at once), then closes. It prints one JSON line: the
loop's add_writer calls, the bytes the client read and whether they arrived whole and in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    mode, frames, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import protocol, reactor

    if mode == "eager":
        from config import daphne_eager_write

        assert daphne_eager_write.install()

    add_writer_calls = 0
    real_add_writer = loop.add_writer

    def counting_add_writer(*args, **kwargs):
        nonlocal add_writer_calls
        add_writer_calls += 1
        return real_add_writer(*args, **kwargs)

    loop.add_writer = counting_add_writer
    payload = [f"frame {n:06d};".encode() for n in range(frames)]
    blob = bytes(range(256)) * (big // 256)
    expected = b"".join(payload) + blob
    result: dict = {}

    class Writer(protocol.Protocol):
        def connectionMade(self):
            self.sent = 0
            loop.call_soon(self.burst)

        def burst(self):
            for _ in range(3):  # three frames in one turn of the loop: one send for all three
                if self.sent < frames:
                    self.transport.write(payload[self.sent])
                    self.sent += 1
            if self.sent < frames:
                loop.call_later(0.001, self.burst)
            else:
                result["small_add_writer_calls"] = add_writer_calls
                self.transport.write(blob)
                self.transport.loseConnection()  # after everything buffered has gone

    factory = protocol.ServerFactory.forProtocol(Writer)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port.getHost().port)
        data = await reader.read(-1)
        writer.close()
        result["received"] = len(data)
        result["whole_and_in_order"] = hashlib.sha256(data).digest() == hashlib.sha256(expected).digest()
        reactor.stop()

    client_task = loop.create_task(client())
    reactor.callLater(60, reactor.stop)
    reactor.run()
    if not client_task.done():  # the reactor stopped on its 60 s guard: the client read no end
        client_task.cancel()
    result["add_writer_calls"] = add_writer_calls
    result["expected"] = len(expected)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
