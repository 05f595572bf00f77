"""The Redis routing backend (production). Every decision is one Lua function call (FCALL), atomic, so
any number of daphne and Celery processes on any number of machines can route at once without double
assignment. The functions are one Redis library (Redis 7+): `lua/prelude.lua`, then each
`lua/<op>.lua` as the body of the function `<library>_<op>`. The library is named after a hash of its
source (`switchboard_routing_<hash>`), so processes of two releases each call their own during a rolling
deploy; it is loaded on the first call that finds it missing (a fresh or restarted Redis, a `FUNCTION
FLUSH`). Loaded once, its shared code runs at load, not on every call as a script's would.

Keys (prefix `rt` by default; docs/routing.md has the full list): a queue's keys share the hash tag
`{q:<id>}` (`rt:{q:7}:waiting`, `rt:{q:7}:ready:web`, ...); agents, items and offers have their own
keys (`rt:agent:<id>`, `rt:item:<ref>`, `rt:offer:<id>`). A decision touches one item's queue and the
agents serving it, which an agent shared by several queues links together, so the scripts need one Redis
primary (with replicas or Sentinel), not a sharded cluster.

The scripts' source (the library, console presence, the rebuild lock) is assembled in redis_lua.py; this
module is the client: arguments in, events or a refusal out.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings

from core.redis import connection_pool
from routing.backends.base import BaseRoutingBackend, Event
from routing.backends.redis_lua import (
    CONSOLE_BEAT,
    CONSOLE_CLOSE,
    CONSOLE_EXPECT,
    CONSOLES_LAPSED,
    IS_BUILT,
    MARK_BUILT,
    UNLOCK,
    library,
)
from routing.exceptions import RoutingError

_SEP = "\x1f"


def _joined(names: Sequence[str]) -> str:
    return _SEP + _SEP.join(names) + _SEP if names else ""


def _csv(ids: Sequence[int]) -> str:
    return "," + ",".join(str(int(i)) for i in ids) + "," if ids else ""


class RedisBackend(BaseRoutingBackend):
    """Config: `url` (default the deployment's Redis, settings.REDIS_SERVER), `pool_size` (default
    settings.REDIS_POOL_SIZE), `prefix` (default "rt"), `pool_timeout` seconds to wait for a free connection
    (default 5)."""

    def __init__(self, config: dict[str, Any] | None = None, *, channel_kinds: Sequence[str] = ()) -> None:
        super().__init__(config, channel_kinds=channel_kinds)
        server = self.config.get("url") or getattr(settings, "REDIS_SERVER", None)
        if not server:
            raise RoutingError("bad_request", "The Redis routing backend needs REDIS_URL.")
        # A blocking pool waits for a free connection under bursts instead of raising MaxConnectionsError;
        # through Sentinel, its connections go to the primary of the moment (core/redis.py).
        self.pool = connection_pool(
            server,
            max_connections=int(self.config.get("pool_size") or settings.REDIS_POOL_SIZE),
            timeout=float(self.config.get("pool_timeout", 5)),
        )
        self.client = redis.Redis(connection_pool=self.pool)
        self.prefix = self.config.get("prefix", "rt")
        self.library, self.library_source = library(self.channel_kinds)
        self.built_key = f"{self.prefix}:built"
        # Outside the prefix's keys, so the flush of a rebuild does not drop the lock of the one rebuilding.
        self.lock_key = f"{self.prefix}-lock:rebuild"
        self.console_prefix = f"{self.prefix}-presence:agent:"
        self.lapse_key = f"{self.prefix}-presence:lapse"
        self._console_beat = self.client.register_script(CONSOLE_BEAT)
        self._console_close = self.client.register_script(CONSOLE_CLOSE)
        self._consoles_lapsed = self.client.register_script(CONSOLES_LAPSED)
        self._console_expect = self.client.register_script(CONSOLE_EXPECT)
        self._is_built = self.client.register_script(IS_BUILT)
        self._mark_built = self.client.register_script(MARK_BUILT)

    def _run(self, op: str, *args: Any, now_ms: int = 0) -> Any:
        argv = [self.prefix, int(now_ms), secrets.token_hex(6), *args]
        name = f"{self.library}_{op}"
        for _ in range(2):  # the library may be missing, even again right after loading it
            try:
                return self.client.fcall(name, 0, *argv)
            except redis.ResponseError as error:
                if "function not found" not in str(error).lower():
                    raise
            self.library_load()
        return self.client.fcall(name, 0, *argv)

    def library_load(self) -> None:
        """Load the routing functions into Redis (done by the first call that finds them missing)."""
        try:
            self.client.function_load(self.library_source)
        except redis.ResponseError as error:
            if "already exists" not in str(error):
                raise

    def _decide(self, op: str, *args: Any, now_ms: int) -> list[Event]:
        data = json.loads(self._run(op, *args, now_ms=now_ms))
        if "error" in data:
            raise RoutingError(data["error"], data.get("detail", ""))
        events = data.get("events") or []
        return events if isinstance(events, list) else []

    # --- configuration ----------------------------------------------------------------------------------
    def queue_set(self, *, queue_id, policy, offer_timeout_ms, sticky_window_ms, max_wait_ms, overflow_queue_id):
        self._decide(
            "queue_set",
            int(queue_id),
            policy,
            int(offer_timeout_ms),
            int(sticky_window_ms),
            int(max_wait_ms),
            int(overflow_queue_id or 0),
            now_ms=0,
        )

    def agent_set(self, *, agent_id, status, capacity, default_capacity, skills, queue_ids, away_after, now_ms):
        caps = {str(k): int(v) for k, v in (capacity or {}).items()}
        return self._decide(
            "agent_set",
            int(agent_id),
            status,
            int(default_capacity),
            json.dumps(caps) if caps else "{}",
            _joined(sorted(set(skills))),
            _csv(queue_ids),
            int(away_after),
            now_ms=now_ms,
        )

    # --- decisions --------------------------------------------------------------------------------------
    def work_enqueue(self, *, ref, queue_id, kind, priority, skills, preferred_agent_id, enqueued_ms, now_ms):
        return self._decide(
            "enqueue",
            int(ref),
            int(queue_id),
            kind,
            int(priority),
            _joined(list(skills)),
            int(preferred_agent_id or 0),
            int(enqueued_ms),
            now_ms=now_ms,
        )

    def work_release(self, *, ref, reason, now_ms):
        return self._decide("release", int(ref), reason, now_ms=now_ms)

    def work_pick(self, *, ref, agent_id, now_ms):
        return self._decide("pick", int(ref), int(agent_id), now_ms=now_ms)

    def work_transfer(self, *, ref, queue_id, agent_id, now_ms):
        return self._decide("transfer", int(ref), int(queue_id or 0), int(agent_id or 0), now_ms=now_ms)

    def offer_accept(self, *, offer_id, agent_id, now_ms):
        return self._decide("accept", offer_id, int(agent_id), now_ms=now_ms)

    def offer_reject(self, *, offer_id, agent_id, now_ms):
        return self._decide("reject", offer_id, int(agent_id), now_ms=now_ms)

    def offer_expire(self, *, offer_id, now_ms):
        return self._decide("expire", offer_id, now_ms=now_ms)

    def work_reevaluate(self, *, ref, now_ms):
        return self._decide("reevaluate", int(ref), now_ms=now_ms)

    def rematch(self, *, now_ms):
        waiting: list[tuple[float, str]] = []
        for queue_id in self.client.smembers(f"{self.prefix}:queues"):
            key = f"{self.prefix}:{{q:{queue_id.decode()}}}:waiting"
            waiting += [(score, ref.decode()) for ref, score in self.client.zrange(key, 0, -1, withscores=True)]
        events: list[Event] = []
        for _, ref in sorted(waiting):
            events += self._decide("match", ref, now_ms=now_ms)
        return events

    # --- console presence -------------------------------------------------------------------------------
    def console_beat(self, *, agent_id, console, now_ms, ttl_ms):
        keys = [f"{self.console_prefix}{int(agent_id)}", self.lapse_key]
        self._console_beat(keys=keys, args=[int(agent_id), console, int(now_ms + ttl_ms), int(now_ms)])

    def console_close(self, *, agent_id, console, now_ms):
        keys = [f"{self.console_prefix}{int(agent_id)}", self.lapse_key]
        return int(self._console_close(keys=keys, args=[int(agent_id), console, int(now_ms)]))

    def console_expect(self, *, agent_id, now_ms):
        keys = [f"{self.console_prefix}{int(agent_id)}", self.lapse_key]
        return bool(self._console_expect(keys=keys, args=[int(agent_id), int(now_ms)]))

    def console_count(self, *, agent_id, now_ms):
        return int(self.client.zcount(f"{self.console_prefix}{int(agent_id)}", f"({int(now_ms)}", "+inf"))

    def consoles_lapsed(self, *, now_ms, grace_ms, limit=500):
        found = self._consoles_lapsed(
            keys=["", self.lapse_key], args=[self.console_prefix, int(now_ms), int(now_ms - grace_ms), int(limit)]
        )
        return [int(agent) for agent in found]

    # --- reads ------------------------------------------------------------------------------------------
    def due(self, *, now_ms, limit=500):
        offers = self.client.zrangebyscore(f"{self.prefix}:offers", "-inf", now_ms, start=0, num=limit)
        refs = self.client.zrangebyscore(f"{self.prefix}:due", "-inf", now_ms, start=0, num=limit)
        return [o.decode() for o in offers], [int(r) for r in refs]

    def queue_waiting(self, *, queue_id):
        refs = self.client.zrange(f"{self.prefix}:{{q:{int(queue_id)}}}:waiting", 0, -1)
        pipe = self.client.pipeline(transaction=False)
        for ref in refs:
            pipe.hmget(f"{self.prefix}:item:{ref.decode()}", "prio", "enq")
        rows = []
        for ref, (prio, enq) in zip(refs, pipe.execute(), strict=True):
            if prio is not None:
                rows.append({"ref": int(ref), "priority": int(prio), "enqueued_ms": int(float(enq))})
        return rows

    def work_position(self, *, ref):
        position = int(self._run("position", int(ref)))
        return position if position > 0 else None

    def queue_positions(self, *, queue_id):
        # One ZRANGE: an item is in its queue's waiting set exactly while it waits.
        refs = self.client.zrange(f"{self.prefix}:{{q:{int(queue_id)}}}:waiting", 0, -1)
        return {int(ref): n for n, ref in enumerate(refs, start=1)}

    def work_get(self, *, ref):
        raw = self.client.hgetall(f"{self.prefix}:item:{int(ref)}")
        if not raw:
            return None
        item = {k.decode(): v.decode() for k, v in raw.items()}
        return {
            "ref": int(ref),
            "queue": int(float(item["queue"])),
            "kind": item["kind"],
            "state": item["state"],
            "agent": int(float(item.get("agent") or 0)),
            "offer": item.get("offer", ""),
            "prio": int(float(item["prio"])),
            "enq": int(float(item["enq"])),
        }

    def agent_get(self, *, agent_id):
        raw = self.client.hgetall(f"{self.prefix}:agent:{int(agent_id)}")
        if not raw:
            return None
        agent = {k.decode(): v.decode() for k, v in raw.items()}
        load = {
            key.split(":", 1)[1]: int(float(value))
            for key, value in agent.items()
            if key.startswith("load:") and int(float(value))
        }
        return {
            "status": agent["status"],
            "load": load,
            "total": int(float(agent.get("total") or 0)),
            "missed": int(float(agent.get("missed") or 0)),
        }

    # --- maintenance ----------------------------------------------------------------------------------
    def flush(self) -> None:
        batch = []
        for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)

    def built(self) -> bool:
        # Missing (a Redis restarted empty) or made on another primary (a replica promoted since).
        return bool(self._is_built(keys=[self.built_key]))

    def mark_built(self) -> None:
        self._mark_built(keys=[self.built_key])

    def rebuild_lock(self, *, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        return token if self.client.set(self.lock_key, token, nx=True, px=int(ttl_s * 1000)) else None

    def rebuild_unlock(self, token: str) -> None:
        self.client.eval(UNLOCK, 1, self.lock_key, token)

    def restore(self, *, agents, items, seq, now_ms):
        payload = {
            "agents": [
                {
                    "agent_id": int(a["agent_id"]),
                    "status": a["status"],
                    "default_capacity": int(a["default_capacity"]),
                    "capacity": {str(k): int(v) for k, v in (a["capacity"] or {}).items()},
                    "skills": _joined(sorted(set(a["skills"]))),
                    "queues": _csv(a["queue_ids"]),
                    "away_after": int(a["away_after"]),
                }
                for a in agents
            ],
            "items": [
                {
                    "ref": int(i["ref"]),
                    "queue_id": int(i["queue_id"]),
                    "kind": i["kind"],
                    "priority": int(i["priority"]),
                    "skills": _joined(list(i["skills"])),
                    "preferred_agent_id": int(i.get("preferred_agent_id") or 0),
                    "enqueued_ms": int(i["enqueued_ms"]),
                    "queued_ms": int(i["queued_ms"]),
                    "state": i["state"],
                    "agent_id": int(i.get("agent_id") or 0),
                    "policy": i.get("policy") or "",
                }
                for i in items
            ],
            "seq": int(seq),
        }
        # cjson turns an empty list into an object; scripts iterate with ipairs, which treats both alike.
        self._decide("restore", json.dumps(payload), now_ms=now_ms)
