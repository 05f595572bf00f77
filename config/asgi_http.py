"""Django's ASGI handler, with each request's database connections closed when the request ends.

Under ASGI Django runs a request's synchronous code (middleware, views, the response's close) on a thread
of the request's own (asgiref's `ThreadSensitiveContext`: a one-thread executor per request), which ends
with the request. A connection kept for reuse (`CONN_MAX_AGE`) on that thread is never reused: the next
request opens another on its own thread, and the old one stays open in MySQL until the garbage collector
frees the ended thread's state (measured: 20 requests, 20 new connections, 8 still open after them; with
the collector paused, all 20). Under load that is MySQL's `max_connections` reached by connections no
thread uses. So the request's thread closes its connections as the request ends, as Django does with
`CONN_MAX_AGE=0`, which its documentation asks of ASGI deployments. The sockets' database thread and the
message batches' threads live as long as the process and keep theirs (docs/architecture.md)."""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections


class RequestConnectionsClosingHandler(ASGIHandler):
    async def handle(self, scope, receive, send):
        try:
            await super().handle(scope, receive, send)
        finally:
            # On the request's own thread (the handler runs inside its ThreadSensitiveContext).
            await sync_to_async(connections.close_all, thread_sensitive=True)()


def http_application() -> RequestConnectionsClosingHandler:
    """get_asgi_application() with the handler above."""
    django.setup(set_prefix=False)
    return RequestConnectionsClosingHandler()
