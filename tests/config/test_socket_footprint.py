"""What each open socket holds, kept small (docs/performance.md, the idle sockets): the widget socket
goes without Channels' cookie, session and user middleware, and daphne's per-connection input queue is
config/daphne_input_queue.py's."""

from __future__ import annotations

import asyncio

import pytest
from channels.sessions import CookieMiddleware

from config.daphne_input_queue import InputQueue


def _routes() -> dict:
    from config.websocket_urls import websocket_urlpatterns

    return {str(p.pattern): p.callback for p in websocket_urlpatterns}


def test_the_widget_socket_has_no_session_middleware_and_staff_sockets_do():
    from interface.sockets.widget import WidgetConsumer

    routes = _routes()
    assert routes["ws/v1/widget/"].consumer_class is WidgetConsumer
    for staff in ("ws/v1/agent/", "ws/v1/supervisor/", "ws/v1/supervisor/live/"):
        assert isinstance(routes[staff], CookieMiddleware), staff


def test_daphne_serves_with_the_small_input_queue():
    from daphne import server

    import config.asgi  # noqa: F401 - installs it

    assert server.asyncio.Queue is InputQueue
    assert server.asyncio.ensure_future is asyncio.ensure_future


def test_the_rate_bucket_has_no_instance_dict():
    from imsubsystem.ratelimit import TokenBucket

    assert not hasattr(TokenBucket(capacity=2, rate=1), "__dict__")


async def test_input_queue_is_a_fifo_that_holds_nothing_while_empty():
    queue = InputQueue()
    assert queue.empty() and queue._items is None and queue._getters is None
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert queue.qsize() == 2
    assert [await queue.get(), await queue.get()] == [1, 2]
    assert queue._items is None


async def test_input_queue_wakes_a_waiting_get():
    queue = InputQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.put_nowait("connect")
    assert await asyncio.wait_for(getter, 1) == "connect"
    assert queue._getters is None


async def test_a_cancelled_get_takes_nothing_and_passes_its_wakeup_on():
    queue = InputQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("frame")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it runs: `second` gets the frame
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "frame"
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert queue._getters is None
    queue.put_nowait("later")
    assert await queue.get() == "later"
