"""Switchboard's channel layer: local fan-out in each process, Redis pub/sub between processes.

The production default (CHANNEL_LAYER_BACKEND=switchboard). channels-redis's pub/sub layer can be chosen
instead (realtime/pubsub.py); docs/realtime.md compares the two. Against channels-redis's list-based
layer: that one receives one message per Redis round trip per process and sends a copy per member
socket, so a daphne process spends its time waiting on Redis long before it runs out of CPU
(docs/performance.md); its pub/sub layer delivers even a process's own messages through Redis and loses
them silently while a subscription is down.

How this one works, per process and event loop (a "hub"):

- Each socket's channel is an in-memory queue of the process (`specific.<hub id>!<random>`). A socket
  served by daphne waits on its own input queue instead of on the layer (`new_channel_into`, the
  DirectLayer of realtime/protocol.py): while messages wait for it here, one `sb.layer_ready` in that
  queue tells it to `take` them.
- Groups are kept in memory: the hub knows which of its own channels are in which group, and subscribes
  to the group's Redis pub/sub channel (`<prefix>:<Redis db>:grp:<group>`: pub/sub ignores database
  numbers, so the channel names carry it) once, when its first member joins; `group_add` returns
  after Redis has confirmed the subscription, so nothing published after it is missed.
- `group_send` puts the message straight into the queues of the process's own members (no Redis round
  trip when both ends share a process) and publishes one copy to Redis for the other processes. Sends
  made while a publish is on the wire go together in the next pipeline, in order. A member named by the
  message's `origin` (the socket that sent what the frame announces) is not given it, here or in any
  other process.
- A message from another process is decoded once and put into the queues of the local members; the
  process's own publications coming back from Redis are recognised by their origin and skipped.
- `send` to another process's channel goes to that hub's own pub/sub channel
  (`<prefix>:<Redis db>:hub:<id>`).

The layer is a fast path, not the record (messages are in MySQL before they are published, with a
per-conversation seq). When a socket's queue passes `capacity`, or the process's subscription to Redis
was lost and had to be made again, the affected sockets get `sb.layer_reset` instead and close with
4012, so their clients reconnect and resume from MySQL (docs/protocol.md). A publish that fails (Redis
unreachable) still reached the local members; the other processes lost their subscriptions in the same
outage and reset their sockets when they subscribe again, and any other hole is filled by the client's
resume from its last complete seq at its next message or reconnect.

Callers without an event loop (Celery tasks, commands) publish with `group_send_blocking`, one PUBLISH
on a thread-safe connection pool, without making a loop per call.

One module of about 480 lines on purpose: the hub's local queues, its group table, the pipelined
publisher and the subscription reader share one state per event loop and keep their invariants together
(a group is subscribed on Redis exactly while it has a local member); apart, each half would reach into
the other's private state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import threading
import types
import uuid
import weakref
from collections import deque
from typing import Any

import msgpack
import redis
import redis.asyncio as aredis
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

from core.redis import async_redis_client, redis_client, server_db
from realtime.metrics import LAYER_RESETS
from realtime.protocol import RESET, WAKE

logger = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT_S = 5.0
ANNOUNCE_TIMEOUT_S = 2.0  # how long a join waits for the other subscribers' acknowledgements


def _hub_id_of(channel: str) -> str | None:
    """The hub id inside a process-specific channel name (`<prefix><hub id>!<random>`)."""
    head, bang, _ = channel.partition("!")
    return head.rsplit(".", 1)[-1] if bang else None


@dataclasses.dataclass(slots=True)
class _Announcement:
    """A join announcement of this hub awaiting the other subscribers' acknowledgements (`_Hub.announce`)."""

    done: asyncio.Future
    needed: int | None = None  # the other subscribers PUBLISH counted (None: its answer not here yet)
    got: int = 0  # acknowledgements heard (they may arrive before PUBLISH answers)

    def settle(self) -> None:
        if self.needed is not None and self.got >= self.needed and not self.done.done():
            self.done.set_result(None)


class _Hub:
    """The layer's state for one event loop of one process."""

    def __init__(self, layer: FanoutChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.id = uuid.uuid4().hex[:16]
        self.direct = layer.key("hub", self.id)
        self.channels: set[str] = set()  # this hub's live channels
        # Messages waiting for their channel's consumer; a channel has a queue only while it has some
        # (an empty deque is 600-odd bytes, and most sockets are idle most of the time).
        self.queues: dict[str, deque[dict[str, Any]]] = {}
        self.waiters: dict[str, asyncio.Future] = {}
        # Channels whose arrivals are announced in their socket's own input queue (DirectLayer), and
        # those of them with an announcement pending.
        self.sinks: dict[str, Any] = {}
        self.announced: set[str] = set()
        self.groups: dict[str, set[str]] = {}
        self.member_of: dict[str, set[str]] = {}
        self.client: aredis.Redis | None = None
        self.pubsub: Any = None
        self.reader: asyncio.Task | None = None
        self.confirmed: dict[str, asyncio.Future] = {}  # Redis channel -> subscription confirmed
        self.sub_lock = asyncio.Lock()
        self.direct_seen = False
        self.outgoing: list[tuple[str, bytes, asyncio.Future | None]] = []
        # Groups with local members: whether another process may be subscribed too (True: publish, False:
        # no other process listens, so nothing is published; absent: publish). See `announce`.
        self.others: dict[str, bool] = {}
        self.joins: dict[str, asyncio.Future] = {}  # group -> this subscription's announcement, done or not
        self.acks: dict[str, _Announcement] = {}  # this hub's join announcements awaiting acknowledgements
        self.heard: dict[str, int] = {}  # group -> other processes' announcements heard
        self.flusher: asyncio.Task | None = None
        layer.hubs_by_id[self.id] = self

    # --- Redis ---------------------------------------------------------------------------------
    def redis(self) -> aredis.Redis:
        if self.client is None:
            self.client = async_redis_client(
                self.layer.server,
                max_connections=self.layer.max_connections,
                timeout=10,
                client_name=f"sb-layer-{self.id}",  # CLIENT LIST shows which process holds what
            )
        return self.client

    async def start(self) -> None:
        """Subscribe to this hub's own channel and start reading (until that has worked once)."""
        await self.subscribe(self.direct)

    async def subscribe(self, rchan: str) -> None:
        future = self.confirmed.get(rchan)
        if future is None:
            future = self.confirmed[rchan] = self.loop.create_future()
            try:
                async with self.sub_lock:
                    if self.pubsub is None:
                        self.pubsub = self.redis().pubsub()
                    await self.pubsub.subscribe(rchan)
            except BaseException:
                if self.confirmed.get(rchan) is future:  # not sent: the next join tries again
                    del self.confirmed[rchan]
                raise
            if self.reader is None or self.reader.done():
                self.reader = self.loop.create_task(self.read())
        await asyncio.wait_for(asyncio.shield(future), SUBSCRIBE_TIMEOUT_S)

    async def unsubscribe(self, rchan: str) -> None:
        self.confirmed.pop(rchan, None)
        async with self.sub_lock:
            # Joined again while this waited for the lock: the subscription stays.
            if rchan in self.confirmed or self.pubsub is None:
                return
            await self.pubsub.unsubscribe(rchan)

    async def read(self) -> None:
        backoff = 0.05
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=False, timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection is gone and redis-py's own retries gave up
                logger.warning("Channel layer lost its Redis subscription (%s); subscribing again", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                await self.resubscribe()
                continue
            backoff = 0.05
            if message is None:
                continue
            kind = message["type"]
            if kind == "message":
                self.on_message(message["data"])
            elif kind == "subscribe":
                rchan = message["channel"].decode()
                if rchan == self.direct:
                    if self.direct_seen:
                        # redis-py reconnected and subscribed again: what was published meanwhile is gone.
                        self.reset_all("the Redis subscription was made again")
                    self.direct_seen = True
                future = self.confirmed.get(rchan)
                if future is not None and not future.done():
                    future.set_result(True)

    async def resubscribe(self) -> None:
        async with self.sub_lock:  # no join or leave in between: they would use the old connection
            old, self.pubsub = self.pubsub, None
            if old is not None:
                with contextlib.suppress(Exception):  # the connection is broken already
                    await old.aclose()
            channels = list(self.confirmed)
            for rchan in channels:  # joins still waiting keep their future; the rest get a new one
                if self.confirmed[rchan].done():
                    self.confirmed[rchan] = self.loop.create_future()
            self.direct_seen = False
            self.pubsub = self.redis().pubsub()
            try:
                if channels:
                    await self.pubsub.subscribe(*channels)
            except Exception as exc:
                # The next read fails on the unconnected subscription and brings this back.
                logger.warning("Channel layer could not subscribe again yet (%s)", exc)
                return
        # Announcements made meanwhile were not heard: publish to every group again (Hub.announce).
        self.others.clear()
        self.reset_all("the Redis subscription was lost")

    # --- local delivery ------------------------------------------------------------------------
    def on_message(self, data: bytes) -> None:
        try:
            envelope = msgpack.unpackb(data, raw=False)
            self.on_envelope(envelope)
        except Exception:
            # Undecodable or not of our shape: dropped, and the reader goes on for everyone else.
            logger.warning("Channel layer dropped a message it could not read")

    def on_envelope(self, envelope: dict[str, Any]) -> None:
        if envelope.get("o") == self.id:
            return  # this hub's own publication, delivered locally when it was sent
        if "j" in envelope:  # another process has joined a group this hub is subscribed to
            self.others[envelope["j"]] = True
            self.heard[envelope["j"]] = self.heard.get(envelope["j"], 0) + 1
            self.publish_nowait(self.layer.key("hub", envelope["o"]), {"o": self.id, "a": envelope["t"]})
            return
        if "a" in envelope:  # a process has heard this hub's announcement
            self.acked(envelope["a"])
            return
        message = envelope["m"]
        group = envelope.get("g")
        if group is not None:
            self.put_members(group, message)
        elif envelope.get("c") in self.channels or envelope.get("c") in self.waiters:
            self.put(envelope["c"], message)

    def put_members(self, group: str, message: dict[str, Any]) -> None:
        """Put a group's message into its local members' queues, except the member the message names as its
        `origin` (the sending socket, which has it from its ack and would drop it: skipped here, it costs no
        copy, no wake-up and no consumer dispatch)."""
        origin = message.get("origin")
        for channel in tuple(self.groups.get(group, ())):
            if channel != origin:
                self.put(channel, message)

    def put(self, channel: str, message: dict[str, Any], *, strict: bool = False) -> None:
        queue = self.queues.get(channel)
        if queue is None:
            if channel not in self.channels and channel not in self.waiters:
                return  # no such socket (any more) in this process
            queue = self.queues[channel] = deque()
        if len(queue) >= self.layer.capacity:
            if strict:
                raise ChannelFull(channel)
            logger.warning("Channel %s is %s messages behind; it is reset", channel, len(queue))
            LAYER_RESETS.labels(reason="overflow").inc()
            queue.clear()
            queue.append({"type": RESET, "reason": "overflow"})
        else:
            queue.append(dict(message))
        self.wake(channel)

    def wake(self, channel: str) -> None:
        """Tell the channel's consumer that messages wait: its receive's waiter, or one WAKE in its
        socket's input queue while none is pending."""
        waiter = self.waiters.get(channel)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
            return
        sink = self.sinks.get(channel)
        if sink is not None and channel not in self.announced:
            self.announced.add(channel)
            sink.put_nowait({"type": WAKE})

    def take(self, channel: str) -> list[dict[str, Any]]:
        self.announced.discard(channel)
        queue = self.queues.pop(channel, None)  # emptied: an idle channel keeps no deque
        return list(queue) if queue else []

    def reset_all(self, reason: str) -> None:
        logger.warning("Channel layer resets %s local channels: %s", len(self.channels), reason)
        LAYER_RESETS.labels(reason="subscription").inc(len(self.channels))
        for channel in self.channels:
            self.queues[channel] = deque([{"type": RESET, "reason": reason}])
            self.wake(channel)

    async def receive(self, channel: str) -> dict[str, Any]:
        self.channels.add(channel)
        try:
            while not (queue := self.queues.get(channel)):
                waiter = self.waiters[channel] = self.loop.create_future()
                await waiter
        except asyncio.CancelledError:
            # The consumer is gone: forget its channel and its memberships.
            self.forget(channel)
            raise
        finally:
            self.waiters.pop(channel, None)
        message = queue.popleft()
        if not queue:
            del self.queues[channel]  # emptied: an idle channel keeps no deque
        return message

    async def announce(self, group: str) -> None:
        """Tell the other processes subscribed to `group` that this one now is, and wait until each has
        heard it (or ANNOUNCE_TIMEOUT_S has passed); then this hub knows whether any other process
        listens to the group, and every other one knows that this one does.

        A hub with local members of a group publishes to it only while another process may be
        subscribed (`others`): in a process that holds both ends of a conversation, its frames then
        never go through Redis and back (docs/performance.md). A process that skips must learn of a new
        subscriber before that subscriber reads what it missed from MySQL (the socket's replay after
        `group_add`), or a frame committed after that read would reach it from nowhere: so the joiner
        publishes its announcement on the group's own channel (heard by exactly the processes
        subscribed; PUBLISH answers how many), each of them marks the group as shared before it
        acknowledges, and `group_add` returns only after every acknowledgement. A frame a process
        skipped before it heard the announcement was committed before its acknowledgement, and so
        before the joiner's replay."""
        token = secrets.token_hex(8)
        entry = self.acks[token] = _Announcement(self.loop.create_future())
        self.others[group] = True  # until shown otherwise
        heard_before = self.heard.get(group, 0)
        try:
            subscribers = await self.redis().publish(
                self.layer.key("grp", group), msgpack.packb({"o": self.id, "j": group, "t": token}, use_bin_type=True)
            )
            entry.needed = max(0, int(subscribers) - 1)  # every subscriber but this hub
            entry.settle()
            try:
                await asyncio.wait_for(asyncio.shield(entry.done), ANNOUNCE_TIMEOUT_S)
            except TimeoutError:
                logger.warning(
                    "Channel layer: %s of %s processes did not acknowledge joining %s within %s s",
                    entry.needed - entry.got,
                    entry.needed,
                    group,
                    ANNOUNCE_TIMEOUT_S,
                )
        finally:
            self.acks.pop(token, None)
        if entry.needed == 0 and self.heard.get(group, 0) == heard_before and group in self.groups:
            self.others[group] = False

    def group_gone(self, group: str) -> None:
        """The group's last local member has left: nothing is known of it any more (a new member
        announces again)."""
        self.others.pop(group, None)
        self.joins.pop(group, None)
        self.heard.pop(group, None)

    def acked(self, token: str) -> None:
        entry = self.acks.get(token)
        if entry is None:
            return
        entry.got += 1
        entry.settle()

    def forget(self, channel: str) -> None:
        self.channels.discard(channel)
        self.queues.pop(channel, None)
        self.sinks.pop(channel, None)
        self.announced.discard(channel)
        for group in self.member_of.pop(channel, ()):
            members = self.groups.get(group)
            if members is not None:
                members.discard(channel)
                if not members:
                    del self.groups[group]
                    self.group_gone(group)
                    rchan = self.layer.key("grp", group)
                    self.confirmed.pop(rchan, None)  # at once: a join from now on subscribes anew
                    self.loop.create_task(self._unsubscribe_quietly(rchan))

    async def _unsubscribe_quietly(self, rchan: str) -> None:
        try:
            await self.unsubscribe(rchan)
        except Exception:
            logger.warning("Channel layer could not unsubscribe from %s", rchan)

    # --- publishing ----------------------------------------------------------------------------
    async def publish(self, rchan: str, payload: dict[str, Any]) -> None:
        future = self.loop.create_future()
        self.outgoing.append((rchan, msgpack.packb(payload, use_bin_type=True), future))
        if self.flusher is None or self.flusher.done():
            self.flusher = self.loop.create_task(self.flush_outgoing())
        await future

    def publish_nowait(self, rchan: str, payload: dict[str, Any]) -> None:
        """`publish` for a caller that does not wait for Redis: it leaves with the next pipeline, after
        everything published before it; a failure is logged (the layer is a fast path, not the record)."""
        self.outgoing.append((rchan, msgpack.packb(payload, use_bin_type=True), None))
        if self.flusher is None or self.flusher.done():
            self.flusher = self.loop.create_task(self.flush_outgoing())

    async def flush_outgoing(self) -> None:
        while self.outgoing:
            batch, self.outgoing = self.outgoing, []
            try:
                if len(batch) == 1:
                    await self.redis().publish(batch[0][0], batch[0][1])
                else:
                    async with self.redis().pipeline(transaction=False) as pipe:
                        for rchan, data, _ in batch:
                            pipe.publish(rchan, data)
                        await pipe.execute()
            except Exception as exc:
                unawaited = 0
                for _, _, future in batch:
                    if future is None:
                        unawaited += 1
                    elif not future.done():
                        future.set_exception(exc)
                if unawaited:
                    logger.warning("Channel layer could not publish %d messages to Redis: %s", unawaited, exc)
                continue
            for _, _, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

    async def aclose(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
        if self.pubsub is not None:
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
        if self.client is not None:
            await self.client.aclose(close_connection_pool=True)
        self.channels.clear()
        self.queues.clear()
        self.sinks.clear()
        self.announced.clear()
        self.groups.clear()
        self.member_of.clear()
        self.others.clear()
        self.joins.clear()
        self.heard.clear()


class FanoutChannelLayer(BaseChannelLayer):
    """CHANNEL_LAYERS backend. CONFIG: `hosts` ([{"address": redis url, "max_connections": n}], or the
    Sentinel form of core/redis.py: `sentinels`, `master_name`, `db`, ...), `prefix` (Redis channel
    prefix), `capacity` (messages a socket may be behind before it is reset)."""

    extensions = ["groups", "flush"]
    # Publishes share one pipelined connection per loop: callers need not bound their concurrent sends.
    pipelined = True

    def __init__(self, hosts=None, prefix: str = "sb", capacity: int = 2000, expiry: int = 60, **kwargs) -> None:
        super().__init__(expiry=expiry, capacity=capacity)
        host = (hosts or [{"address": "redis://127.0.0.1:6379/0"}])[0]
        if isinstance(host, str):
            host = {"address": host}
        self.server = {k: v for k, v in host.items() if k != "max_connections"}
        # Pub/sub channels belong to no Redis database: two deployments (or test runs) on one Redis
        # server with different database numbers would hear each other's groups. Every channel name
        # carries the database number.
        self.db = server_db(self.server)
        self.max_connections = int(host.get("max_connections", 100))
        self.prefix = prefix
        self.capacity = capacity
        self._hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()
        # This layer's hubs by id (one per event loop), for sends between loops of one process.
        self.hubs_by_id: weakref.WeakValueDictionary[str, _Hub] = weakref.WeakValueDictionary()
        self._sync_client: redis.Redis | None = None
        self._sync_lock = threading.Lock()

    def key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{self.db}:{kind}:{name}"

    def hub(self) -> _Hub:
        loop = asyncio.get_running_loop()
        hub = self._hubs.get(loop)
        if hub is None:
            hub = self._hubs[loop] = _Hub(self, loop)
            self._close_with(loop)
        return hub

    def _close_with(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the loop's connections before the loop closes (asgiref and tests make short-lived loops)."""
        original = loop.close
        layer = self

        def close(self_loop, *args, **kwargs):
            hub = layer._hubs.pop(loop, None)
            if hub is not None and not self_loop.is_running():
                with contextlib.suppress(Exception):  # closing anyway; a dead connection is fine
                    self_loop.run_until_complete(hub.aclose())
            self_loop.close = original
            return original(*args, **kwargs)

        loop.close = types.MethodType(close, loop)

    # --- channels ------------------------------------------------------------------------------
    async def new_channel(self, prefix: str = "specific.") -> str:
        hub = self.hub()
        await hub.start()
        channel = f"{prefix}{hub.id}!{secrets.token_hex(6)}"
        hub.channels.add(channel)
        return channel

    async def new_channel_into(self, sink: Any, prefix: str = "specific.") -> str:
        """DirectLayer: a channel whose arrivals are announced in `sink`, the socket's own input queue."""
        channel = await self.new_channel(prefix)
        self.hub().sinks[channel] = sink
        return channel

    def take(self, channel: str) -> list[dict[str, Any]]:
        """DirectLayer: what waits for `channel` (a channel of this loop's hub), in order."""
        return self.hub().take(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        hub = self.hub()
        owner_id = _hub_id_of(channel)
        if owner_id is None:
            raise ValueError(f"{channel!r}: this layer delivers only to channels made by new_channel().")
        owner = self.hubs_by_id.get(owner_id)
        if owner is hub:
            hub.put(channel, message, strict=True)
        elif owner is not None:  # another event loop of this process
            owner.loop.call_soon_threadsafe(owner.put, channel, message)
        else:
            await hub.publish(self.key("hub", owner_id), {"o": hub.id, "c": channel, "m": message})

    async def receive(self, channel: str) -> dict[str, Any]:
        self.require_valid_channel_name(channel)
        return await self.hub().receive(channel)

    def channel_forget(self, channel: str) -> None:
        """The consumer of `channel` has ended: drop its queue and its group memberships (sockets call
        this when they finish, however they finish; a cancelled receive does it too)."""
        hub = self.hubs_by_id.get(_hub_id_of(channel) or "")
        if hub is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is hub.loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            hub.forget(channel)
        elif not hub.loop.is_closed():
            hub.loop.call_soon_threadsafe(hub.forget, channel)

    # --- groups --------------------------------------------------------------------------------
    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        hub = self.hub()
        if _hub_id_of(channel) != hub.id:
            raise ValueError(f"{channel!r} belongs to another process: groups are joined by their own channels.")
        members = hub.groups.setdefault(group, set())
        members.add(channel)
        hub.member_of.setdefault(channel, set()).add(group)
        try:
            await hub.subscribe(self.key("grp", group))
            # The other processes subscribed to the group hear of this one before this returns (the
            # caller's replay from MySQL comes next): Hub.announce. One announcement per subscription;
            # a member joining while it is under way waits for the same one, a failed one is made again.
            join = hub.joins.get(group)
            if join is None or (join.done() and (join.cancelled() or join.exception() is not None)):
                join = hub.joins[group] = hub.loop.create_task(hub.announce(group))
            await asyncio.shield(join)
        except BaseException:
            members.discard(channel)
            hub.member_of.get(channel, set()).discard(group)
            if not members:
                hub.groups.pop(group, None)
                hub.confirmed.pop(self.key("grp", group), None)
                hub.group_gone(group)
            raise

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        hub = self.hub()
        members = hub.groups.get(group)
        hub.member_of.get(channel, set()).discard(group)
        if members is None:
            return
        members.discard(channel)
        if not members:
            del hub.groups[group]
            hub.group_gone(group)
            await hub.unsubscribe(self.key("grp", group))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        hub = self.hub()
        hub.put_members(group, message)
        if hub.others.get(group) is not False:  # another process may listen (Hub.announce)
            await hub.publish(self.key("grp", group), {"o": hub.id, "g": group, "m": message})

    def group_send_nowait(self, group: str, message: dict[str, Any]) -> None:
        """group_send from the loop's own thread without waiting for Redis: the local members have the
        message when this returns, the other processes' copy leaves with the next pipeline, in the order
        of the calls (so one caller's messages to a group keep their order without a task each)."""
        self.require_valid_group_name(group)
        hub = self.hub()
        hub.put_members(group, message)
        if hub.others.get(group) is not False:  # another process may listen (Hub.announce)
            hub.publish_nowait(self.key("grp", group), {"o": hub.id, "g": group, "m": message})

    def group_send_blocking(self, group: str, message: dict[str, Any]) -> None:
        """group_send for code without an event loop (Celery tasks, commands): one PUBLISH."""
        self.require_valid_group_name(group)
        with self._sync_lock:
            if self._sync_client is None:
                self._sync_client = redis_client(self.server, max_connections=self.max_connections, timeout=10)
        data = msgpack.packb({"o": "", "g": group, "m": message}, use_bin_type=True)
        self._sync_client.publish(self.key("grp", group), data)

    async def flush(self) -> None:
        hub = self._hubs.get(asyncio.get_running_loop())
        if hub is not None:
            for rchan in [r for r in hub.confirmed if r != hub.direct]:
                await hub.unsubscribe(rchan)
            hub.channels.clear()
            hub.queues.clear()
            hub.sinks.clear()
            hub.announced.clear()
            hub.groups.clear()
            hub.member_of.clear()
            hub.others.clear()
            hub.joins.clear()
            hub.heard.clear()
