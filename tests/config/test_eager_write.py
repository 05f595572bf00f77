"""daphne's frames leave without an epoll registration per write (config/daphne_eager_write.py).

Twisted's transport, on the asyncio reactor daphne runs, registers the socket for writability on every
write; the eager write sends at the end of the loop's turn and registers only when the kernel's buffer
is full. These tests fail if the behaviour is lost (an upgrade of Twisted or daphne, or the install
dropped from config/asgi.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "config" / "eager_write_probe.py"
FRAMES = 300
BIG = 8 * 1024 * 1024  # far more than a loopback socket's buffer takes at once


def probe(mode: str, frames: int = FRAMES, big: int = BIG) -> dict:
    out = subprocess.run(
        [sys.executable, str(PROBE), mode, str(frames), str(big)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_small_frames_register_nothing_and_everything_arrives_whole():
    # Twisted's own transport: a registration for (nearly) every burst of frames.
    twisted = probe("twisted", frames=30, big=0)
    assert twisted["small_add_writer_calls"] >= 5
    assert twisted["received"] == twisted["expected"] and twisted["whole_and_in_order"]
    # The eager write: none for frames the kernel takes at once.
    assert probe("eager", frames=30, big=0)["small_add_writer_calls"] == 0
    eager = probe("eager")
    assert eager["small_add_writer_calls"] == 0
    assert eager["received"] == eager["expected"]
    assert eager["whole_and_in_order"]
    # A write larger than the kernel's buffer still falls back to the registration, and the close
    # waits for it: the 8 MB arrived whole above, after the frames, before the connection closed.
    assert eager["add_writer_calls"] >= 1


def test_daphne_serves_the_app_with_the_eager_write_the_quiet_read_and_the_gc_policy():
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "import config.asgi; from twisted.internet import tcp; from config import daphne_eager_write as e;"
        "from config import autobahn_receive as r;"
        "from autobahn.twisted.websocket import WebSocketAdapterProtocol as P;"
        "import gc, sys; from config import gc_policy as g;"
        "print(tcp.Connection.write is e._write and e.installed() and P.dataReceived is r._data_received"
        " and g.installed() and g._after_collection in gc.callbacks and gc.get_freeze_count() > 0"
        " and sys.getswitchinterval() == 0.001)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "True"
