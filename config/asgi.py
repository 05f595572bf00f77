"""ASGI entry point: HTTP through Django, WebSockets through the apps' consumers."""

import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.asgi_http import http_application

# Django's handler, each request's database connections closed as it ends (config/asgi_http.py).
django_asgi_app = http_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config import (  # noqa: E402
    autobahn_receive,
    daphne_body_limit,
    daphne_drain,
    daphne_eager_write,
    daphne_input_queue,
    gc_policy,
)
from config.body_limits import BodyLimitMiddleware  # noqa: E402
from config.websocket_urls import websocket_urlpatterns  # noqa: E402

# Request bodies over their path's limit are refused before they are buffered (config/body_limits.py):
# inside daphne as they arrive, and at the ASGI edge for any other server.
daphne_body_limit.install()
# Each connection's input queue without asyncio.Queue's four empty deques (config/daphne_input_queue.py).
daphne_input_queue.install()
daphne_eager_write.install()
autobahn_receive.install()
# SIGTERM drains the process (stops accepting, closes its sockets with 4012, lets what is in flight
# finish) instead of cutting every connection (config/daphne_drain.py).
daphne_drain.install()

application = daphne_drain.DrainMiddleware(
    ProtocolTypeRouter(
        {
            "http": BodyLimitMiddleware(django_asgi_app),
            # Origin checks for the cookie-authenticated staff sockets live in their consumers (the widget
            # socket accepts any origin its inbox allows); the staff routes add sessions and users themselves
            # (config/websocket_urls.py), the widget's, authenticated by token, goes without.
            "websocket": URLRouter(websocket_urlpatterns),
        }
    )
)

# The embedded default has no beat: its timers run in this process (switchboard/timers.py).
from switchboard.timers import serving_start  # noqa: E402

serving_start()

# Everything imported so far lives as long as the process: move it out of the collector's sight, so a
# full collection under load walks only what requests made (shorter pauses in the message path); and
# from now on what survives each full collection too, with one full collection every few minutes
# (config/gc_policy.py).
gc.collect()
gc.freeze()
if "pytest" not in sys.modules:  # a serving process (the tests import this module too, and keep CPython's ways)
    gc_policy.install(settings.GC_FULL_COLLECT_EVERY_S)
    # The event loop and the message batch's thread share the GIL: the thread takes it back after each of
    # a batch's round trips to MySQL within this interval, not CPython's 5 ms (docs/performance.md).
    sys.setswitchinterval(settings.PYTHON_SWITCH_INTERVAL_S)
