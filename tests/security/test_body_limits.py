"""Request bodies over their path's limit are refused with 413 before they are buffered: a 300 MB body
streamed to a real daphne costs it almost no memory, a declared one is refused before it is sent, and
nginx applies the same caps per location (config/body_limits.py, deploy/nginx.conf.template)."""

from __future__ import annotations

import asyncio
import json
import select
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings

from config.body_limits import UPLOAD_ENVELOPE, BodyLimitMiddleware

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

MB = 1024 * 1024
CHUNK = 64 * 1024


def memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


def read_response(sock: socket.socket) -> tuple[int, dict]:
    sock.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:]) if k.lower() == b"content-length"
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    try:
        return status, json.loads(rest[:length] or b"{}")
    except ValueError:
        return status, {"text": rest[:length].decode(errors="replace")}


def stream(base: str, path: str, total: int, *, declare: bool = False) -> tuple[int, dict, int]:
    """POST `total` bytes to path, chunked (or with Content-Length when `declare`), as a client that
    watches for an early answer, as browsers and proxies do. Returns (status, body, bytes sent)."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    framing = f"Content-Length: {total}" if declare else "Transfer-Encoding: chunked"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    sock.sendall(head.encode())
    payload = b"x" * CHUNK
    piece = payload if declare else b"%x\r\n" % CHUNK + payload + b"\r\n"
    sent = 0
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(piece)
            sent += CHUNK
        else:
            if not declare:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        status, body = read_response(sock)
    finally:
        sock.close()
    return status, body, sent


def test_a_300_mb_streamed_body_is_refused_without_being_buffered(daphne_process):
    base, proc = daphne_process()
    assert httpx.get(f"{base}/healthz", timeout=20).status_code == 200
    # Start the peak (VmHWM) from the resident size now, so only this request can raise it.
    with open(f"/proc/{proc.pid}/clear_refs", "w") as refs:
        refs.write("5")
    before = memory_kb(proc.pid, "VmRSS")
    status, body, sent = stream(base, "/api/v1/widget/messages", 300 * MB)
    assert status == 413 and body["error"]["code"] == "too_large"
    # Refused once past the limit, long before the end of the body (what the client manages to push
    # into the socket buffers before it reads the answer depends on scheduling, so only roughly).
    assert sent < 64 * MB
    # The highest resident size the process ever reached, against what it had before the request.
    grown_mb = (memory_kb(proc.pid, "VmHWM") - before) / 1024
    assert grown_mb < 64, f"daphne grew by {grown_mb:.0f} MB"
    # The server is still there and answers the next request.
    assert httpx.get(f"{base}/healthz", timeout=20).status_code == 200


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/gateway/api/some-inbox/", "REQUEST_BODY_MAX_WEBHOOK"),
        ("/api/v1/widget/uploads", "MEDIA_MAX_UPLOAD_SIZE"),
        ("/api/v1/agent/uploads", "MEDIA_MAX_UPLOAD_SIZE"),
        ("/accounts/login/", "REQUEST_BODY_MAX"),
        ("/admin/login/?next=/admin/", "REQUEST_BODY_MAX"),
    ],
)
def test_each_path_class_refuses_a_declared_length_over_its_limit_before_the_body(daphne_process, path, limit):
    base, _ = daphne_process()
    cap = getattr(settings, limit) + (UPLOAD_ENVELOPE if "uploads" in path else 0)
    status, body, sent = stream(base, path, cap + 1, declare=True)
    assert status == 413 and str(cap) in body["error"]["detail"]
    assert sent < 64 * MB  # the 100 MB upload cap: refused long before its body ends


def test_bodies_within_the_limit_still_reach_the_app(daphne_process):
    base, _ = daphne_process()
    # A webhook of 100 KB to an inbox that does not exist: the app answers it (404), not the guard.
    response = httpx.post(f"{base}/gateway/api/no-such-inbox/", content=b"{" + b" " * 100_000 + b"}", timeout=20)
    assert response.status_code != 413
    # A streamed webhook just over its small limit is refused; the same under it is not.
    over = stream(base, "/gateway/api/no-such-inbox/", settings.REQUEST_BODY_MAX_WEBHOOK + CHUNK)
    assert over[0] == 413
    under = stream(base, "/gateway/api/no-such-inbox/", settings.REQUEST_BODY_MAX_WEBHOOK - CHUNK)
    assert under[0] != 413


def test_nginx_refuses_per_location(start_cluster):
    cluster = start_cluster()
    webhook = stream(cluster.base, "/gateway/api/some-inbox/", 2 * MB, declare=True)
    assert webhook[0] == 413
    other = stream(cluster.base, "/api/v1/widget/messages", 300 * MB)
    assert other[0] == 413 and other[2] < 64 * MB
    upload = stream(cluster.base, "/api/v1/widget/uploads", 2 * MB, declare=True)
    assert upload[0] != 413  # uploads get their media limit


def test_asgi_middleware_refuses_a_streamed_body_for_any_server():
    """The same rule at the ASGI edge (servers that stream the body to the app): Django never gets the
    whole body and the client gets 413."""
    from config.asgi import django_asgi_app

    chunks = [{"type": "http.request", "body": b"x" * CHUNK, "more_body": True} for _ in range(400)]
    taken = 0

    async def receive():
        nonlocal taken
        taken += 1
        return chunks.pop(0) if chunks else {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/gateway/api/some-inbox/",
        "raw_path": b"/gateway/api/some-inbox/",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
    }
    asyncio.run(BodyLimitMiddleware(django_asgi_app)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert taken * CHUNK <= settings.REQUEST_BODY_MAX_WEBHOOK + CHUNK
