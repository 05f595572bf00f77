"""The source of the Redis backend's scripts: the routing library (`lua/prelude.lua`, then each
`lua/<op>.lua` as the body of the function `<library>_<op>`, every decision guarded by the `built`
marker), and the small scripts of console presence and of the rebuild lock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

_LUA = Path(__file__).with_name("lua")
OPS = (
    "queue_set",
    "agent_set",
    "enqueue",
    "release",
    "pick",
    "transfer",
    "accept",
    "reject",
    "expire",
    "reevaluate",
    "match",
    "position",
    "restore",
)


# Operations that may run while the state is not loaded: configuration, a read, and the load itself.
UNGUARDED = frozenset({"queue_set", "position", "restore"})
# Every decision first checks that the state is loaded (the `built` marker that a rebuild sets last), in
# the same atomic call: a Redis that restarted empty refuses to decide on a partial state, and to
# number decisions from 1 again, until the state is rebuilt from MySQL (routing.rebuild.routing_ensure_built).
# The marker holds the replication id of the primary it was built on (REPLID), which a replica promoted
# by Sentinel changes: the promoted replica may lack the primary's last writes, so it refuses too until
# the state is rebuilt on it (about 3 microseconds a decision).
REPLID = "string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)')"
GUARD = f"""
if redis.call('GET', P .. ':built') ~= {REPLID} then
  return fail('not_built', 'The routing state is not loaded; it is rebuilt from MySQL.')
end
"""
# The marker, set and read against this server's replication id.
MARK_BUILT = f"return redis.call('SET', KEYS[1], {REPLID})"
IS_BUILT = f"return redis.call('GET', KEYS[1]) == {REPLID} and 1 or 0"
# Console presence (see BaseRoutingBackend): `<prefix>-presence:agent:<id>`, a zset of an agent's live
# consoles scored by their deadline, and `<prefix>-presence:lapse`, a zset of agents scored by when
# their last console went (or will go) away. Outside the routing prefix, so a rebuild's flush keeps it.
_CONSOLE_PRUNE = """
local function prune(key, agent, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('ZADD', KEYS[2], top[2], agent)
    redis.call('PEXPIREAT', key, math.floor(tonumber(top[2])) + 1000)
    return redis.call('ZCARD', key)
  end
  redis.call('DEL', key)
  return 0
end
"""
CONSOLE_BEAT = (
    _CONSOLE_PRUNE
    + """
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return prune(KEYS[1], ARGV[1], tonumber(ARGV[4]))
"""
)
CONSOLE_CLOSE = (
    _CONSOLE_PRUNE
    + """
redis.call('ZREM', KEYS[1], ARGV[2])
local left = prune(KEYS[1], ARGV[1], tonumber(ARGV[3]))
if left == 0 then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
return left
"""
)
CONSOLE_EXPECT = (
    _CONSOLE_PRUNE
    + """
if prune(KEYS[1], ARGV[1], tonumber(ARGV[2])) > 0 or redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""
)
CONSOLES_LAPSED = (
    _CONSOLE_PRUNE
    + """
local found = {}
local now = tonumber(ARGV[2])
for _, agent in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))) do
  if prune(ARGV[1] .. agent, agent, now) == 0 then
    redis.call('ZREM', KEYS[2], agent)
    found[#found + 1] = agent
  end
end
return found
"""
)
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def library(channel_kinds: Sequence[str]) -> tuple[str, str]:
    """(name, source) of the Redis library holding every routing operation."""
    body = (_LUA / "prelude.lua").read_text().replace("__KINDS__", ", ".join(json.dumps(k) for k in channel_kinds))
    for op in OPS:
        body += (
            f"\nredis.register_function('@@_{op}', function(KEYS, ARGV)\nbegin(ARGV)\n"
            + ("" if op in UNGUARDED else GUARD)
            + (_LUA / f"{op}.lua").read_text()
            + "\nend)\n"
        )
    name = "switchboard_routing_" + hashlib.sha256(body.encode()).hexdigest()[:16]
    return name, f"#!lua name={name}\n" + body.replace("@@_", f"{name}_")
