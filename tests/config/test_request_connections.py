"""Each HTTP request's database connections are closed when it ends (config/asgi_http.py): under ASGI a
request's synchronous code runs on a thread of its own that ends with it, and a connection kept for reuse
there was never reused, only left open in MySQL until the garbage collector came."""

from __future__ import annotations

import asyncio
import gc

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s", [connection.settings_dict["NAME"]]
        )
        return cursor.fetchone()[0]


async def _get(app, path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    given = []
    sent = []

    async def receive():
        if given:
            await asyncio.Future()  # no disconnect: the request ends by its response
        given.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


def test_twenty_requests_leave_no_connection_open(settings):
    if connection.vendor != "mysql":
        pytest.skip("MySQL's process list")
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    from config.asgi import application

    before = _open_connections()
    gc.disable()  # what the ended threads held is freed only by reference counting
    try:

        async def requests():
            return [await _get(application, "/healthz/ready") for _ in range(20)]

        statuses = asyncio.run(requests())
        still_open = _open_connections() - before
    finally:
        gc.enable()
    assert set(statuses) == {200}
    assert still_open <= 0
