"""An ASGI app for tests/config/test_drain.py, served by the daphne command line: the drain's middleware
around a handler that answers `/fast` at once and holds `/slow` for a minute, so the bounded drain can be
seen on a real daphne process."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config import daphne_drain


async def _app(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    await receive()
    if scope["path"] == "/slow":
        await asyncio.sleep(60)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


daphne_drain.install()
application = daphne_drain.DrainMiddleware(_app)
