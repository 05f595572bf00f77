"""core/redis.py: the one description of the deployment's Redis, and every user of Redis taking it, so
that with REDIS_SENTINELS set no user reaches a fixed server (the failover itself:
tests/faults/test_redis_sentinel.py)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aredis
from channels_redis.utils import create_pool

from core.redis import (
    AsyncBlockingSentinelConnectionPool,
    BlockingSentinelConnectionPool,
    CacheConnectionPool,
    async_redis_client,
    celery_broker,
    connection_pool,
    parse_sentinels,
    redis_client,
    redis_server,
    server_db,
)
from tests.faults.support import RedisSentinel, RedisServer

SENTINELS = [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380)]
SERVER = redis_server("redis://:pw@ignored:6379/3", sentinels=SENTINELS, service="mymaster", sentinel_password="sp")


def test_sentinels_are_parsed_or_refused_by_name():
    assert parse_sentinels("10.0.0.1:26379, 10.0.0.2:26379,[::1]:26380") == [
        ("10.0.0.1", 26379),
        ("10.0.0.2", 26379),
        ("::1", 26380),
    ]
    assert parse_sentinels("") == []
    for bad in ("10.0.0.1", "10.0.0.1:port", ":26379", "h:70000"):
        with pytest.raises(ValueError, match=r"host:port|out of range"):
            parse_sentinels(bad)


def test_one_server_or_the_sentinels_of_a_service():
    assert redis_server("redis://h:6379/2") == {"address": "redis://h:6379/2"}
    assert SERVER["sentinels"] == SENTINELS and SERVER["master_name"] == "mymaster"
    assert SERVER["db"] == 3 and SERVER["password"] == "pw"  # the URL gives the database and password
    assert SERVER["sentinel_kwargs"]["password"] == "sp"
    assert server_db(SERVER) == 3 and server_db({"address": "redis://h/5"}) == 5


def test_the_celery_broker_goes_through_the_sentinels():
    url, options = celery_broker(SERVER)
    assert url == ";".join(f"sentinel://:pw@{h}:{p}/3" for h, p in SENTINELS)
    assert options == {"master_name": "mymaster", "sentinel_kwargs": SERVER["sentinel_kwargs"]}
    assert celery_broker({"address": "redis://h/1"}) == ("redis://h/1", {})


def test_pools_on_the_sentinels_are_blocking_sentinel_pools():
    pool = connection_pool(SERVER, max_connections=7, timeout=3)
    assert isinstance(pool, BlockingSentinelConnectionPool) and pool.service_name == "mymaster"
    assert pool.max_connections == 7 and pool.timeout == 3
    assert pool.connection_kwargs["db"] == 3 and pool.connection_kwargs["password"] == "pw"
    assert [(s.connection_pool.connection_kwargs["host"]) for s in pool.sentinel_manager.sentinels] == [
        h for h, _ in SENTINELS
    ]
    assert isinstance(connection_pool(SERVER, asyncio=True), AsyncBlockingSentinelConnectionPool)
    assert isinstance(connection_pool("redis://h/1", asyncio=True), aredis.BlockingConnectionPool)


@pytest.fixture
def sentinel_settings(settings):
    settings.REDIS_SERVER = SERVER
    return settings


def test_every_user_of_redis_takes_the_sentinels(sentinel_settings, monkeypatch):
    """Routing, the rate limits, both channel layers, the cache, healthz and metrics (redis_client's
    default): none makes a pool on a fixed server when sentinels are configured. Nothing connects."""
    from imsubsystem import ratelimit
    from realtime.fanout import FanoutChannelLayer
    from realtime.pubsub import PubSubChannelLayer
    from routing.backends import channel_kinds
    from routing.backends.redis import RedisBackend

    assert isinstance(RedisBackend(channel_kinds=channel_kinds()).pool, BlockingSentinelConnectionPool)
    monkeypatch.setattr(ratelimit, "_buckets", None)
    buckets = ratelimit._message_buckets()
    assert isinstance(buckets.client.connection_pool, BlockingSentinelConnectionPool)
    assert isinstance(redis_client().connection_pool, BlockingSentinelConnectionPool)
    assert isinstance(async_redis_client().connection_pool, AsyncBlockingSentinelConnectionPool)
    assert isinstance(CacheConnectionPool.from_url("redis:///3", server=SERVER), BlockingSentinelConnectionPool)

    hosts = [{**SERVER, "max_connections": 5}]
    ours = FanoutChannelLayer(hosts=hosts, prefix="t")
    assert ours.db == 3 and ours.key("grp", "g") == "t:3:grp:g"

    async def hub_pool():
        hub = ours.hub()
        pool = hub.redis().connection_pool
        await hub.aclose()
        return pool

    pool = asyncio.run(hub_pool())
    assert isinstance(pool, AsyncBlockingSentinelConnectionPool) and pool.max_connections == 5
    theirs = PubSubChannelLayer(hosts=hosts, prefix="t")
    assert theirs.prefix == "t.3."
    assert isinstance(create_pool(theirs.hosts[0]), aredis.sentinel.SentinelConnectionPool)  # channels-redis's own
    assert isinstance(redis_client(theirs.hosts[0]).connection_pool, BlockingSentinelConnectionPool)


def test_a_client_through_a_real_sentinel_reaches_the_primary(tmp_path):
    primary = RedisServer(tmp_path)
    primary.start()
    sentinel = RedisSentinel(tmp_path, primary.port, quorum=1)
    sentinel.start()
    try:
        server = redis_server("redis:///4", sentinels=[("127.0.0.1", sentinel.port)], service="mymaster")
        client = redis_client(server)
        client.set("k", "v")
        assert client.get("k") == b"v"
        assert client.connection_pool.get_master_address() == ("127.0.0.1", primary.port)

        async def read():
            aclient = async_redis_client(server)
            try:
                return await aclient.get("k")
            finally:
                await aclient.aclose(close_connection_pool=True)

        assert asyncio.run(read()) == b"v"
    finally:
        sentinel.kill()
        primary.kill()
