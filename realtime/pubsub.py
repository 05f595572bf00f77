"""channels-redis's pub/sub layer (`channels_redis.pubsub.RedisPubSubChannelLayer`), selectable with
CHANNEL_LAYER_BACKEND=channels_redis, with what the switch needs beyond Channels' API
(realtime/protocol.py): a blocking group_send for code without an event loop, forgetting a finished
consumer's channel, and Channels' name checks.

What it does not do, and ours does (docs/realtime.md): every message, a process's own included, goes
through Redis; a socket's queue has no bound; a message published while a subscription is down is
lost without a reset, and is found again only by the client's resume (seq gap or reconnect).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import redis
from channels.layers import BaseChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts

from core.redis import redis_client, server_db

logger = logging.getLogger(__name__)

# Channels' rules for channel and group names (length, characters), which the pub/sub layer skips.
_names = BaseChannelLayer()


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """CHANNEL_LAYERS backend. CONFIG: `hosts` ([{"address": redis url, "max_connections": n}], or
    channels-redis's Sentinel form, which core/redis.py makes: `sentinels`, `master_name`, `db`, ...),
    `prefix`; the rest goes to channels-redis (a `capacity` is accepted and has no effect there)."""

    extensions = ["groups", "flush"]
    # One connection per Redis host and loop, one publish at a time: nothing for a caller to bound.
    pipelined = False

    def __init__(self, hosts=None, prefix: str = "sb", capacity: int | None = None, **kwargs) -> None:
        self.hosts = decode_hosts(hosts or [{"address": "redis://127.0.0.1:6379/0"}])
        # Pub/sub channels belong to no Redis database: the names carry the database number, as ours do.
        db = server_db(self.hosts[0])
        self.prefix = f"{prefix}.{db}."
        super().__init__(hosts=self.hosts, prefix=self.prefix, **kwargs)
        self._sync_clients: dict[int, redis.Redis] = {}
        self._sync_lock = threading.Lock()

    # Channels' layer API, named here rather than reached through channels-redis's __getattr__ proxy.
    async def new_channel(self, prefix: str = "specific.") -> str:
        return await self._get_layer().new_channel(prefix)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        _names.require_valid_channel_name(channel)
        await self._get_layer().send(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        _names.require_valid_channel_name(channel)
        return await self._get_layer().receive(channel)

    async def group_add(self, group: str, channel: str) -> None:
        _names.require_valid_group_name(group)
        _names.require_valid_channel_name(channel)
        await self._get_layer().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        _names.require_valid_group_name(group)
        _names.require_valid_channel_name(channel)
        await self._get_layer().group_discard(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        _names.require_valid_group_name(group)
        await self._get_layer().group_send(group, message)

    async def flush(self) -> None:
        await self._get_layer().flush()

    # What the switch needs beyond Channels' API.
    def group_send_blocking(self, group: str, message: dict[str, Any]) -> None:
        """group_send for code without an event loop (Celery tasks, commands): one PUBLISH, on the
        shard channels-redis would pick, in its wire format."""
        _names.require_valid_group_name(group)
        name = f"{self.prefix}__group__{group}"
        shard = _consistent_hash(name, len(self.hosts))
        with self._sync_lock:
            client = self._sync_clients.get(shard)
            if client is None:
                client = self._sync_clients[shard] = redis_client(self.hosts[shard])
        client.publish(name, self.serialize(message))

    def channel_forget(self, channel: str) -> None:
        """Drop a finished consumer's channel and its group memberships (channels-redis unsubscribes a
        channel only when its receive is cancelled, and never takes it out of its groups)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, layer in list(self._layers.items()):
            if channel not in layer.channels and not any(channel in m for m in layer.groups.values()):
                continue
            if loop is running:
                self._forget(loop, layer, channel)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(self._forget, loop, layer, channel)

    def _forget(self, loop: asyncio.AbstractEventLoop, layer: Any, channel: str) -> None:
        names = [channel] if layer.channels.pop(channel, None) is not None else []
        for name, members in list(layer.groups.items()):
            members.discard(channel)
            if not members:
                del layer.groups[name]
                names.append(name)
        for name in names:
            loop.create_task(self._unsubscribe_quietly(layer, name))

    @staticmethod
    async def _unsubscribe_quietly(layer: Any, name: str) -> None:
        if name in layer.groups or name in layer.channels:
            return  # joined again meanwhile: the subscription stays
        try:
            await layer._get_shard(name).unsubscribe(name)
        except Exception:
            logger.warning("Channel layer could not unsubscribe from %s", name)
