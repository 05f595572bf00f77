"""A local HTTP server standing in for the platforms' APIs, and helpers to build webhook requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.base import Headers, InboxInfo, WebhookRequest


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """Answers each request with the next scripted reply (or `default`), recording what it got.
    `accepted` lists the requests it answered with a 2xx: what the platform really took."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.accepted: list[Recorded] = []
        self.script: list[Reply | Callable[[Recorded], Reply]] = []
        self.default: Reply | Callable[[Recorded], Reply] = Reply()
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), self.rfile.read(length)
                )
                with stand_in.lock:
                    stand_in.requests.append(recorded)
                    step = stand_in.script.pop(0) if stand_in.script else stand_in.default
                reply = step(recorded) if callable(step) else step
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    return  # the caller went away before the answer: not accepted
                if 200 <= reply.status < 300:
                    with stand_in.lock:
                        stand_in.accepted.append(recorded)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def allow_outbound(settings, url: str) -> None:
    """Let the outbound guard reach one local stand-in (only its host and port): production refuses
    loopback addresses (core/outbound.py)."""
    authority = url.split("://", 1)[1].split("/", 1)[0]
    settings.OUTBOUND_FETCH_ALLOW = [*settings.OUTBOUND_FETCH_ALLOW, authority]


@pytest.fixture
def stand_in(settings):
    server = StandIn()
    allow_outbound(settings, server.url)
    yield server
    server.close()


def make_request(
    *,
    method: str = "POST",
    url: str = "https://switchboard.example/gateway/x/y/",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    form: tuple[tuple[str, str], ...] = (),
) -> WebhookRequest:
    return WebhookRequest(
        method=method, url=url, query=query or {}, headers=Headers(headers or {}), body=body, form=form
    )


def inbox_info(kind: str, *, config: dict | None = None, credentials: dict | None = None, key: str = "") -> InboxInfo:
    return InboxInfo(id=1, kind=kind, key=key or f"test-{kind}", config=config or {}, credentials=credentials or {})
