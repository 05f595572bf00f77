"""A protocol client that survives its socket dying, as the widget and the console do.

On every (re)connection it sends its opening frames (the customer's `auth`, the agent's presence and one
`resume` per conversation it holds) and then, with the same client_id, every message not acknowledged
yet. A message that arrives above a hole asks for a `resume` from the last seq up to which it has
everything (at most every two seconds per conversation), so a lost frame is read again from MySQL.
A `rate_limited` answer is waited out and the frame goes again; an `auth` that failed half-way drops
the socket so it connects afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable

from switchboard_client.screen import Screen

RECONNECT_DELAY_S = (0.1, 0.3)  # a random wait in this range between two connection attempts
GAP_RESUME_EVERY_S = 2.0  # at most one resume per conversation for holes in this time


class Peer:
    """The common part of the customer and the agent: the connection loop, messages waiting for their
    ack, the screen with its resume point, and the answers to refusals.

    Subclasses name the socket (`path`, `headers`), what opens a connection (`opening_frames`), the
    conversations they hold (`held`) and how to ask for one again (`resume_frame`), and may watch
    `on_message` (a message new on screen) and `on_ack` (one of theirs stored)."""

    path = ""
    # The local address sockets connect from (None: the system's choice). A load generator spreads many
    # sockets over several loopback addresses (127.0.0.2, ...) when one address runs out of ports.
    local_host: str | None = None

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.ws_url = self.base.replace("http", "ws", 1)
        self.screen = Screen()
        self.unacked: dict[str, dict] = {}  # client_id -> the message.send frame, until its ack
        self.acked: set[str] = set()
        self.errors: list[str] = []  # codes of refusals not expected, and names of exceptions raised
        self.error_details: list[object] = []  # the refused frames and exceptions themselves
        self.frame_counts: Counter[str] = Counter()  # frames received, by type
        self.connections = 0
        self.reconnects = 0
        self.rate_limited = 0
        self.half_open = 0  # auth answered with an error instead of ready: dropped and opened again
        self.connected = asyncio.Event()  # set once the first connection has sent its opening frames
        self.ready = asyncio.Event()  # the server's greeting (`ready`, `agent.ready`) on this connection
        self.ws = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._later: set[asyncio.Task] = set()
        self._resumed_at: dict[int, float] = {}
        self._catching_up = False

    # --- what a subclass says ----------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        return {"Origin": self.base}

    def opening_frames(self) -> list[dict]:  # pragma: no cover - overridden
        raise NotImplementedError

    def held(self) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def resume_frame(self, conversation_id: int) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def on_message(self, message: dict, now: float) -> None:
        """A `message.new` not on screen before (a replay's repeat is not)."""

    def on_ack(self, client_id: str, message: dict, now: float) -> None:
        """The first ack of a message this client sent."""

    # --- the connection ----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect, and connect again whenever the socket dies, until `close()`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def open(self, timeout: float = 60) -> None:
        """start() and wait for the first connection."""
        self.start()
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        tasks = [t for t in [self._task, *self._later] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def drop(self) -> bool:
        """Close the socket as a lost network does (no closing handshake); the loop connects again."""
        if self.ws is None or self._closing:
            return False
        with contextlib.suppress(Exception):
            self.ws.transport.abort()
        return True

    def greeting(self) -> list[dict]:
        """What a (re)connection sends first: the opening frames, then every message not acknowledged."""
        return [*self.opening_frames(), *self.unacked.values()]

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        attempts = 0
        while not self._closing:
            if attempts:
                self.reconnects += 1
            attempts += 1
            try:
                self.ready.clear()
                self.ws = await connect(
                    f"{self.ws_url}{self.path}",
                    additional_headers=self.headers(),
                    max_queue=None,
                    ping_interval=None,
                    **({"local_addr": (self.local_host, 0)} if self.local_host else {}),
                )
                self.connections += 1
                for frame in self.greeting():
                    await self.ws.send(json.dumps(frame))
                self.connected.set()
                async for raw in self.ws:
                    self.on_frame(json.loads(raw), time.perf_counter())
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                pass  # the socket died or could not open yet (a 502 while a process restarts): again
            except Exception as exc:
                self._failed(exc)
            if self._closing:
                break
            await asyncio.sleep(random.uniform(*RECONNECT_DELAY_S))

    async def send_json(self, frame: dict) -> bool:
        try:
            await self.ws.send(json.dumps(frame))
            return True
        except Exception:
            return False  # the socket is down: the next connection sends what matters again

    def spawn(self, coroutine: Coroutine) -> None:
        """Run a send in the background; `busy` until it is done."""
        task = asyncio.ensure_future(coroutine)
        self._later.add(task)
        task.add_done_callback(self._done)

    @property
    def busy(self) -> bool:
        return bool(self._later)

    def _done(self, task: asyncio.Task) -> None:
        self._later.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failed(task.exception())

    def _failed(self, exc: BaseException) -> None:
        self.errors.append(type(exc).__name__)
        self.error_details.append(exc)

    # --- sending -----------------------------------------------------------------------------------
    def queue(self, **fields) -> str:
        """Keep a `message.send` until its ack; returns its client_id. `transmit` sends it."""
        client_id = str(uuid.uuid4())
        self.unacked[client_id] = {"type": "message.send", "client_id": client_id, **fields}
        return client_id

    async def transmit(self, client_id: str) -> bool:
        frame = self.unacked.get(client_id)
        return frame is not None and await self.send_json(frame)

    async def catch_up(self) -> None:
        """One resume per conversation held, as a reconnecting client sends."""
        for conversation_id in self.held():
            await self.send_json(self.resume_frame(conversation_id))

    # --- receiving ---------------------------------------------------------------------------------
    def on_frame(self, frame: dict, now: float | None = None) -> None:
        self.frame_counts[frame.get("type", "?")] += 1
        self.handle(frame, time.perf_counter() if now is None else now)

    def handle(self, frame: dict, now: float) -> None:
        kind = frame.get("type")
        if kind == "message.ack":
            client_id = frame["client_id"]
            self.acked.add(client_id)
            if self.unacked.pop(client_id, None) is not None:
                self.on_ack(client_id, frame["message"], now)
            self.remember(frame["message"])
        elif kind == "message.new":
            if self.remember(frame["message"]):
                self.on_message(frame["message"], now)
        elif kind == "message.hidden":
            self.screen.hide(frame["conversation_id"], frame["seq"])
        elif kind == "error":
            self.on_error(frame)

    def remember(self, message: dict) -> bool:
        """Put a message on screen; False when it was there already (a replay overlapping)."""
        conversation_id = message["conversation_id"]
        above_hole = self.screen.above_hole(message)
        added = self.screen.add(message)
        if added == "conflict":
            self.errors.append("two_messages_at_one_seq")
            self.error_details.append(message)
        if added != "new":
            return False
        if above_hole:
            # A frame lost on the fast path: ask MySQL for what follows the resume point.
            now = time.monotonic()
            if now - self._resumed_at.get(conversation_id, -GAP_RESUME_EVERY_S) >= GAP_RESUME_EVERY_S:
                self._resumed_at[conversation_id] = now
                self.spawn(self.send_json(self.resume_frame(conversation_id)))
        return True

    def on_error(self, frame: dict) -> None:
        code = frame.get("code", "?")
        if frame.get("command") == "auth":
            # The server failed half-way through auth (Redis restarting, say) and sent no ready: as the
            # widget does, drop the socket and connect again.
            self.half_open += 1
            self.drop()
        elif code == "rate_limited":
            # A burst (resends after a reconnect, frames queued behind a stall) is answered "slow down":
            # as the widget does, the message stays pending and goes again, with the same client_id,
            # once the allowance has refilled; a refused resume (it names no client_id) is asked again.
            self.rate_limited += 1
            wait = (frame.get("retry_after_s") or 1) + random.random()
            if frame.get("client_id") in self.unacked:
                self.spawn(self._transmit_later(frame["client_id"], wait))
            else:
                self.spawn(self._catch_up_later(wait))
        else:
            self.errors.append(code)
            self.error_details.append(frame)

    async def _transmit_later(self, client_id: str, wait: float) -> None:
        await asyncio.sleep(wait)
        await self.transmit(client_id)

    async def _catch_up_later(self, wait: float) -> None:
        if self._catching_up:
            return
        self._catching_up = True
        try:
            await asyncio.sleep(wait)
            await self.catch_up()
        finally:
            self._catching_up = False


async def settle(peers: Iterable[Peer], timeout: float = 30) -> None:
    """Wait until every peer's messages are acknowledged, then have every screen catch up with MySQL (one
    last resume per conversation held, as a reconnecting client would) and wait for the answers."""
    peers = list(peers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(p.unacked for p in peers):
        await asyncio.sleep(0.1)
    for peer in peers:
        await peer.catch_up()
    await asyncio.sleep(2)
    while time.monotonic() < deadline + 10 and any(p.busy for p in peers):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)


async def close_all(peers: Iterable[Peer]) -> None:
    await asyncio.gather(*(peer.close() for peer in peers))
