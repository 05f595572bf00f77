"""How every process reaches Redis: one description of the server, one way to make a pool from it.

A deployment names its Redis once (config/settings.py): REDIS_URL alone (one server), or REDIS_URL with
REDIS_SENTINELS and REDIS_SENTINEL_SERVICE (a primary with replicas watched by Sentinel; REDIS_URL then
gives the database number and the password, its host is not used). The settings turn that into one
`server` dict, `settings.REDIS_SERVER`, in channels-redis's `hosts` shape, which every user of Redis
takes: our channel layer and channels-redis's, routing's backend, the cache, the rate limits, `/healthz`
and `/metrics`; the Celery broker's URL and transport options are made from the same values
(`celery_broker`).

- `{"address": "redis://..."}`: one server.
- `{"sentinels": [(host, port), ...], "master_name": "mymaster", "db": 0, "password": ...,
  "sentinel_kwargs": {...}}`: the primary is asked of the sentinels. A pool made from it connects each
  new connection to the address the sentinels name at that moment, and drops its idle connections when
  that address changes; a connection to the old primary fails (gone, or read-only once it is a replica)
  and the next one goes to the new primary. So after a failover every process follows the primary
  without a restart.

Pools are blocking (a caller waits for a free connection under a burst instead of getting an error),
threaded or asyncio. Nothing here imports an app.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

import redis
import redis.asyncio as aredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.connection import parse_url
from redis.sentinel import Sentinel, SentinelConnectionPool

# How long a question to one sentinel may take: a sentinel that is down is skipped quickly.
SENTINEL_TIMEOUT_S = 1.0


class BlockingSentinelConnectionPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """redis-py's Sentinel pool (connections to the primary the sentinels name) that waits for a free
    connection like BlockingConnectionPool instead of raising when all are in use."""


class AsyncBlockingSentinelConnectionPool(AsyncSentinelConnectionPool, aredis.BlockingConnectionPool):
    """The same for asyncio."""


def parse_sentinels(value: str | Iterable[Any]) -> list[tuple[str, int]]:
    """`host:port,host:port` (or a list of `host:port` or (host, port)) -> [(host, port)]; ValueError
    naming the entry that is not `host:port`."""
    entries = [e.strip() for e in value.split(",")] if isinstance(value, str) else list(value)
    found = []
    for entry in entries:
        if entry in ("", None):
            continue
        if isinstance(entry, (tuple, list)):
            host, port = entry
        else:
            host, sep, port = str(entry).rpartition(":")
            if not sep or not host:
                raise ValueError(f"{entry!r} is not host:port")
        try:
            number = int(port)
        except (TypeError, ValueError):
            raise ValueError(f"{entry!r} is not host:port") from None
        if not 0 < number < 65536:
            raise ValueError(f"{entry!r}: the port is out of range")
        found.append((str(host).strip("[]"), number))
    return found


def redis_server(
    url: str, *, sentinels: Sequence[tuple[str, int]] = (), service: str = "", sentinel_password: str = ""
) -> dict[str, Any]:
    """The description of one Redis for every user (module docstring): the URL alone without sentinels;
    with them, the URL's database, user and password for the primary and the sentinels to ask."""
    if not sentinels:
        return {"address": url}
    parsed = parse_url(url) if url else {}
    server: dict[str, Any] = {
        "sentinels": [(host, int(port)) for host, port in sentinels],
        "master_name": service,
        "db": int(parsed.get("db") or 0),
    }
    for key in ("username", "password"):
        if parsed.get(key):
            server[key] = parsed[key]
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": SENTINEL_TIMEOUT_S,
        "socket_connect_timeout": SENTINEL_TIMEOUT_S,
    }
    if sentinel_password:
        sentinel_kwargs["password"] = sentinel_password
    server["sentinel_kwargs"] = sentinel_kwargs
    return server


def server_db(server: dict[str, Any]) -> int:
    """The database number a server description points at."""
    if "address" in server:
        return int(parse_url(server["address"]).get("db") or 0)
    return int(server.get("db") or 0)


def connection_pool(server: dict[str, Any] | str, *, asyncio: bool = False, **options: Any):
    """A blocking pool on `server` (a description, or a bare URL): threaded, or for asyncio. `options`
    are redis-py connection and pool arguments (`max_connections`, `timeout` to wait for a free
    connection, `socket_timeout`, `client_name`, ...), over those the description carries."""
    server = {"address": server} if isinstance(server, str) else dict(server)
    options = {"max_connections": 50, "timeout": 10, **_pool_options(server), **options}
    if "address" in server:
        blocking = aredis.BlockingConnectionPool if asyncio else redis.BlockingConnectionPool
        return blocking.from_url(server["address"], **options)
    sentinel_kwargs = server.get("sentinel_kwargs") or {
        "socket_timeout": SENTINEL_TIMEOUT_S,
        "socket_connect_timeout": SENTINEL_TIMEOUT_S,
    }
    if asyncio:
        manager = AsyncSentinel(server["sentinels"], sentinel_kwargs=sentinel_kwargs)
        return AsyncBlockingSentinelConnectionPool(server["master_name"], manager, **options)
    manager = Sentinel(server["sentinels"], sentinel_kwargs=sentinel_kwargs)
    return BlockingSentinelConnectionPool(server["master_name"], manager, **options)


def _pool_options(server: dict[str, Any]) -> dict[str, Any]:
    """What a description carries beyond where the server is (channels-redis's shape allows pool options)."""
    skip = {"address", "sentinels", "master_name", "sentinel_kwargs"}
    return {k: v for k, v in server.items() if k not in skip}


def redis_client(server: dict[str, Any] | str | None = None, **options: Any) -> redis.Redis:
    """A threaded client on `server` (default: the deployment's, settings.REDIS_SERVER)."""
    return redis.Redis(connection_pool=connection_pool(_server_or_settings(server), **options))


def async_redis_client(server: dict[str, Any] | str | None = None, **options: Any) -> aredis.Redis:
    """An asyncio client on `server` (default: the deployment's, settings.REDIS_SERVER)."""
    return aredis.Redis(connection_pool=connection_pool(_server_or_settings(server), asyncio=True, **options))


def _server_or_settings(server: dict[str, Any] | str | None) -> dict[str, Any] | str:
    if server is not None:
        return server
    from django.conf import settings

    configured = getattr(settings, "REDIS_SERVER", None)
    if not configured:
        raise ValueError("No Redis is configured (REDIS_URL or REDIS_SENTINELS).")
    return configured


def celery_broker(server: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and the transport options it needs for `server`: the URL itself for one
    server; kombu's `sentinel://` URLs (one per sentinel, `;`-separated) with `master_name` and
    `sentinel_kwargs` for Sentinel."""
    if "address" in server:
        return server["address"], {}
    auth = ""
    if server.get("password"):
        auth = f"{quote(server.get('username') or '', safe='')}:{quote(server['password'], safe='')}@"
    db = int(server.get("db") or 0)
    url = ";".join(f"sentinel://{auth}{_netloc(host)}:{port}/{db}" for host, port in server["sentinels"])
    options = {"master_name": server["master_name"], "sentinel_kwargs": dict(server.get("sentinel_kwargs") or {})}
    return url, options


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class CacheConnectionPool:
    """Django's Redis cache makes its pool with `pool_class.from_url(LOCATION, **OPTIONS)`; with Sentinel,
    OPTIONS carries `server` (settings.REDIS_SERVER) and this makes the pool from it."""

    @classmethod
    def from_url(cls, url: str, *, server: dict[str, Any], **options: Any):
        return connection_pool(server, **options)
