"""How large a request body may be, by path, enforced before anything buffers the body.

Three classes of path (docs/deployment.md, "Request body limits"):

* webhooks (`/gateway/...`): REQUEST_BODY_MAX_WEBHOOK, small (platforms send a few KB of JSON, XML or form);
* uploads (the widget's and the agent console's upload URLs): MEDIA_MAX_UPLOAD_SIZE plus the multipart
  envelope; each channel's own, smaller policy is checked by media/uploads.py while Django reads;
* everything else: REQUEST_BODY_MAX, small.

Two guards use these rules. Under daphne, config/daphne_body_limit.py counts bytes as they arrive off the
socket (daphne otherwise receives a whole body, then queues all of it in memory, before the application
runs). `BodyLimitMiddleware` is the same rule at the ASGI edge for any other server: it refuses by
Content-Length, and counts the bytes of a streamed (chunked) body, answering 413 before Django buffers it.
nginx applies the same caps per location first (deploy/nginx.conf.template).
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

from django.conf import settings

# Multipart boundaries, part headers and the small form fields around an uploaded file.
UPLOAD_ENVELOPE = 64 * 1024
UPLOAD_PATHS = frozenset({"/api/v1/widget/uploads", "/api/v1/agent/uploads"})
WEBHOOK_PREFIX = "/gateway/"
DEFAULT_BODY_MAX = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE
DEFAULT_WEBHOOK_MAX = 1024 * 1024
DEFAULT_MEDIA_MAX = 100 * 1024 * 1024  # MEDIA_MAX_UPLOAD_SIZE's default


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    if path in UPLOAD_PATHS:
        return settings.MEDIA_MAX_UPLOAD_SIZE + UPLOAD_ENVELOPE
    if path.startswith(WEBHOOK_PREFIX):
        return settings.REQUEST_BODY_MAX_WEBHOOK
    return settings.REQUEST_BODY_MAX


def largest_body_limit() -> int:
    return max(body_limit(next(iter(UPLOAD_PATHS))), body_limit(WEBHOOK_PREFIX), body_limit("/"))


def path_of_target(target: bytes) -> str:
    """The path of a raw HTTP request target (origin form, or absolute form), as the ASGI scope gives it."""
    text = target.decode("latin-1")
    if "://" in text.split("?", 1)[0]:
        text = urlsplit(text).path or "/"
    return unquote(text.split("?", 1)[0])


def too_large_body(limit: int) -> bytes:
    detail = f"The request body may be at most {limit} bytes here."
    return json.dumps({"error": {"code": "too_large", "detail": detail}}).encode()


def _declared_length(scope: dict) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send, limit: int) -> None:
    body = too_large_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """ASGI middleware: a body over its path's limit gets 413 and never reaches Django whole."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(send, limit)
        received = 0
        exceeded = False
        response_started = False

        async def limited_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading at a disconnect and answers nothing; the 413 is sent below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not response_started:
            await _refuse(send, limit)
