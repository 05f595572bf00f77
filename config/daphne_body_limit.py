"""The request body limits of config/body_limits.py, enforced inside daphne as bytes arrive.

daphne (through Twisted) receives a request's whole body before the application runs, then puts all of
it on the application's queue in memory at once: a 300 MB body costs 300 MB of memory and more, whatever
the application does with it. This request class counts the body while it arrives: a Content-Length over
the path's limit is refused as soon as the headers are in, a streamed body as soon as it passes the
limit. The refused body is read and thrown away (never stored) for a short while, so the client can read
the 413 instead of a reset connection, then the connection is closed. The application never sees it.

config/asgi.py installs it when daphne serves the app (`install`).
"""

from __future__ import annotations

import io
import logging

from config.body_limits import body_limit, largest_body_limit, path_of_target, too_large_body

logger = logging.getLogger(__name__)

# How long a refused body is drained before the connection is closed.
LINGER_S = 10.0


def _capped(web_request: type) -> type:
    class BodyLimitedRequest(web_request):
        _body_limit: int | None = None
        _body_received = 0
        _body_refused = False

        def gotLength(self, length):
            target = getattr(self.channel, "_path", None)
            # HTTP/1.1 channels know the target before the body; any other (HTTP/2 over TLS) gets the
            # largest cap here, and the ASGI middleware applies the path's own.
            self._body_limit = body_limit(path_of_target(target)) if target is not None else largest_body_limit()
            if length is not None and length > self._body_limit:
                self.content = io.BytesIO()
                self._refuse_body()
                return
            super().gotLength(length)

        def handleContentChunk(self, data):
            if self._body_refused:
                return
            self._body_received += len(data)
            if self._body_limit is not None and self._body_received > self._body_limit:
                self._refuse_body()
                return
            super().handleContentChunk(data)

        def requestReceived(self, command, path, version):
            if self._body_refused:
                return  # answered already; the application never sees this request
            super().requestReceived(command, path, version)

        def _refuse_body(self) -> None:
            # Not at the top: importing the reactor installs Twisted's default one before daphne
            # installs its asyncio reactor.
            from twisted.internet import reactor

            self._body_refused = True
            if self.content is not None and not getattr(self.content, "closed", False):
                self.content.close()
            self.content = io.BytesIO()
            body = too_large_body(self._body_limit or 0)
            channel = self.channel
            channel.persistent = False
            transport = channel.transport
            transport.write(
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                + body
            )
            logger.warning("request body over %s bytes refused", self._body_limit)
            half_close = getattr(transport, "loseWriteConnection", None)
            if half_close is not None:
                half_close()
            reactor.callLater(LINGER_S, channel.loseConnection)

    BodyLimitedRequest.__name__ = BodyLimitedRequest.__qualname__ = f"BodyLimited{web_request.__name__}"
    return BodyLimitedRequest


def install() -> None:
    """Make daphne build its requests with the body limit (idempotent; no-op without daphne)."""
    try:
        from daphne import http_protocol
    except ImportError:  # pragma: no cover - daphne is a runtime dependency
        return
    if not getattr(http_protocol.WebRequest, "_body_limit_installed", False):
        capped = _capped(http_protocol.WebRequest)
        capped._body_limit_installed = True
        http_protocol.WebRequest = capped
