"""SIGTERM drains a daphne process (config/daphne_drain.py): it stops listening, closes its WebSockets
with 4012, waits for what is in flight (at most DRAIN_SECONDS) and exits 0. Real daphne processes: the
project's ASGI application, and a small app (drain_probe.py) that holds a request to show the bound.
These fail if an upgrade of daphne or Twisted, or a change to config/asgi.py, loses the drain."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.faults.support import BIN, free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


def daphne(app: str, port: int, tmp_path: Path, **env: str) -> subprocess.Popen:
    log = open(tmp_path / f"daphne-{port}.log", "w")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), app],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db
def test_sigterm_closes_every_socket_with_4012_and_exits(tmp_path):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    port = free_port()
    proc = daphne("config.asgi:application", port, tmp_path, DATABASE_URL=database_url(), DRAIN_SECONDS="10")
    try:
        wait_port(port)

        async def scenario() -> tuple[list[int | None], float, bool]:
            url = f"ws://127.0.0.1:{port}/ws/v1/widget/"
            sockets = [await connect(url, additional_headers={"Origin": f"http://127.0.0.1:{port}"}) for _ in range(3)]
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            for ws in sockets:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
            closed_after = time.monotonic() - started
            return [ws.close_code for ws in sockets], closed_after, refused(port)

        codes, closed_after, was_refused = asyncio.run(scenario())
        returncode = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / f"daphne-{port}.log").read_text()
    assert codes == [4012, 4012, 4012], log
    assert closed_after < 2, "the sockets were told at once, not at the end of the drain"
    assert was_refused, "a draining process accepts no connection"
    assert returncode == 0, log
    assert "Drained in" in log


def test_the_drain_is_bounded_and_answers_connection_close_meanwhile(tmp_path):
    port = free_port()
    proc = daphne("tests.config.drain_probe:application", port, tmp_path, DRAIN_SECONDS="2")
    try:
        wait_port(port)
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        kept.request("GET", "/fast")
        first = kept.getresponse()
        first.read()
        assert first.status == 200 and first.getheader("connection") != "close"
        slow = threading.Thread(target=lambda: _get_quietly(port, "/slow"), daemon=True)
        slow.start()
        time.sleep(0.5)  # the slow request is in the application
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # A request over a connection kept alive from before (as nginx keeps them) is still answered,
        # and told to close its connection.
        kept.request("GET", "/fast")
        during = kept.getresponse()
        during.read()
        was_refused = refused(port)
        returncode = proc.wait(timeout=15)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / f"daphne-{port}.log").read_text()
    assert during.status == 200 and during.getheader("connection") == "close", log
    assert was_refused
    assert 1.8 < took < 5, f"drained for {took:.1f} s with a request held (DRAIN_SECONDS=2)"
    assert returncode == 0, log
    assert "still open" in log


def test_a_second_sigterm_stops_at_once(tmp_path):
    port = free_port()
    proc = daphne("tests.config.drain_probe:application", port, tmp_path, DRAIN_SECONDS="30")
    try:
        wait_port(port)
        threading.Thread(target=lambda: _get_quietly(port, "/slow"), daemon=True).start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None, "the first SIGTERM drains (a request is held)"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()


def test_without_a_twisted_reactor_install_changes_nothing():
    code = (
        "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "from config import daphne_drain as d;"
        "print(d.install(), 'twisted.internet.reactor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def _get_quietly(port: int, path: str) -> None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path)
        connection.getresponse().read()
    except Exception:
        pass
