"""The in-memory routing backend: the embedded default and fast tests. One process only, not for
production (each process would route on its own view of the agents). It is also the reference for the
semantics that the Redis backend's Lua scripts implement; the contract suite runs both. The state and
the rules deciding on it are in memory_rules.py (as the Lua functions share `lua/prelude.lua`), the
indexes they read in memory_index.py; here are the operations of the interface, each under the backend's
lock, console presence and the reads."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Sequence
from typing import Any

from routing.backends.base import BaseRoutingBackend, Event, work_score
from routing.backends.memory_rules import MemoryRules
from routing.exceptions import RoutingError


class MemoryBackend(MemoryRules, BaseRoutingBackend):
    def __init__(self, config: dict[str, Any] | None = None, *, channel_kinds: Sequence[str] = ()) -> None:
        super().__init__(config, channel_kinds=channel_kinds)
        self._lock = threading.RLock()
        # Console presence is not routing state: a flush (rebuild) keeps it.
        self.consoles: dict[int, dict[str, int]] = {}
        self.lapse: dict[int, int] = {}
        # Offer ids are `<token>-<n>`: a token per call, this backend's random prefix and a counter (no
        # call to the OS's random source per decision, which cost more than the decision itself).
        self._token_prefix = secrets.token_hex(6)
        self._tokens = itertools.count(1)
        self.flush()

    def _token(self) -> str:
        return f"{self._token_prefix}{next(self._tokens):x}"

    def flush(self) -> None:
        with self._lock:
            self.queues = {}
            self.agents = {}
            self.items = {}
            self.offers = {}
            self.seq = 0
            self.rr = 0
            self._index_reset()

    # --- configuration ----------------------------------------------------------------------------------
    def queue_set(self, *, queue_id, policy, offer_timeout_ms, sticky_window_ms, max_wait_ms, overflow_queue_id):
        with self._lock:
            if queue_id in self.queues and self.queues[queue_id]["policy"] != policy:
                self._ready_drop(queue_id)
            self.queues[queue_id] = {
                "policy": policy,
                "offer_ms": int(offer_timeout_ms),
                "sticky_ms": int(sticky_window_ms),
                "max_wait_ms": int(max_wait_ms),
                "overflow": int(overflow_queue_id or 0),
            }

    def agent_set(self, *, agent_id, status, capacity, default_capacity, skills, queue_ids, away_after, now_ms):
        with self._lock:
            token = self._token()
            events: list[Event] = []
            agent = self.agents.get(agent_id)
            if agent is None:
                agent = {"load": {}, "total": 0, "idle": now_ms, "rr": 0, "missed": 0, "offers": set(), "status": ""}
                self.agents[agent_id] = agent
            old_status = agent["status"]
            agent.update(
                status=status,
                caps={str(k): int(v) for k, v in (capacity or {}).items()},
                default=int(default_capacity),
                skills=set(skills),
                queues=[int(q) for q in queue_ids],
                away_after=int(away_after),
            )
            self._touch(agent_id)
            if status != old_status:
                if status == "available":
                    agent["idle"] = now_ms
                    agent["missed"] = 0
                self._event(events, "agent_status", agent=agent_id, status=status, detail="set")
            if status == "available":
                self._match_agent(agent_id, now_ms, token, events)
            else:
                self._withdraw_offers(agent_id, now_ms, token, events)
            return events

    # --- decisions --------------------------------------------------------------------------------------
    def work_enqueue(self, *, ref, queue_id, kind, priority, skills, preferred_agent_id, enqueued_ms, now_ms):
        with self._lock:
            if ref in self.items:
                return []
            queue = self.queues.get(queue_id)
            if queue is None:
                raise RoutingError("unknown_queue", f"Queue {queue_id} is not configured.")
            pref = int(preferred_agent_id or 0)
            item = {
                "ref": ref,
                "queue": queue_id,
                "kind": kind,
                "prio": int(priority),
                "skills": tuple(skills),
                "pref": pref,
                "enq": int(enqueued_ms),
                "qat": now_ms,
                "state": "waiting",
                "agent": 0,
                "offer": "",
                "policy": "",
                "sticky_until": now_ms + queue["sticky_ms"] if pref else 0,
                "declined": 0,
                "declined_until": 0,
                "overflow_at": self._overflow_at(queue_id, now_ms),
            }
            self.items[ref] = item
            self._place(item)
            events: list[Event] = []
            self._requeue(item, now_ms, self._token(), events)
            return events

    def work_release(self, *, ref, reason, now_ms):
        with self._lock:
            item = self.items.get(ref)
            if item is None:
                return []
            events: list[Event] = []
            was_waiting = item["state"] != "assigned"
            holder = self._release_holder(item, reason, now_ms, events)
            del self.items[ref]
            self._place(item)
            if was_waiting:
                self._event(events, "removed", ref=ref, queue=item["queue"], detail=reason)
            if holder:
                self._match_agent(holder, now_ms, self._token(), events)
            return events

    def work_pick(self, *, ref, agent_id, now_ms):
        with self._lock:
            item = self.items.get(ref)
            if item is None:
                raise RoutingError("unknown_work", f"Conversation {ref} is not in any queue.")
            agent = self.agents.get(agent_id)
            if agent is None:
                raise RoutingError("unknown_agent", f"Agent {agent_id} is not set up for routing.")
            if item["state"] != "waiting":
                raise RoutingError("not_waiting", f"Conversation {ref} is no longer waiting.")
            if item["queue"] not in agent["queues"]:
                raise RoutingError("not_yours", "This conversation waits in a queue you do not serve.")
            if not self._free(agent, item["kind"]):
                raise RoutingError("over_capacity", "You are at capacity for this channel.")
            events: list[Event] = []
            self._assign(item, agent_id, "manual", events)
            return events

    def work_transfer(self, *, ref, queue_id, agent_id, now_ms):
        with self._lock:
            item = self.items.get(ref)
            if item is None:
                raise RoutingError("unknown_work", f"Conversation {ref} is not routed.")
            token = self._token()
            events: list[Event] = []
            if agent_id:
                agent = self.agents.get(agent_id)
                if agent is None:
                    raise RoutingError("unknown_agent", f"Agent {agent_id} is not set up for routing.")
                if item["state"] == "assigned" and item["agent"] == agent_id:
                    return []
                if not self._free(agent, item["kind"]):
                    raise RoutingError("over_capacity", "That agent is at capacity for this channel.")
                if queue_id and queue_id not in self.queues:
                    raise RoutingError("unknown_queue", f"Queue {queue_id} is not configured.")
                holder = self._release_holder(item, "transferred", now_ms, events)
                if queue_id:
                    item["queue"] = queue_id
                self._assign(item, agent_id, "transfer", events)
            else:
                if queue_id not in self.queues:
                    raise RoutingError("unknown_queue", f"Queue {queue_id} is not configured.")
                holder = self._release_holder(item, "transferred", now_ms, events)
                item.update(
                    queue=queue_id,
                    qat=now_ms,
                    pref=0,
                    sticky_until=0,
                    declined=holder,
                    declined_until=now_ms + self.queues[queue_id]["offer_ms"] if holder else 0,
                    overflow_at=self._overflow_at(queue_id, now_ms),
                )
                self._place(item)
                self._requeue(item, now_ms, token, events)
            if holder:
                self._match_agent(holder, now_ms, token, events)
            return events

    def offer_accept(self, *, offer_id, agent_id, now_ms):
        with self._lock:
            offer = self._own_offer(offer_id, agent_id)
            self._close_offer(offer_id)
            item = self.items[offer["ref"]]
            item.update(state="assigned", offer="")
            self.agents[agent_id]["missed"] = 0
            events: list[Event] = []
            fields = {"ref": item["ref"], "queue": item["queue"], "agent": agent_id, "policy": offer["policy"]}
            self._event(events, "accepted", offer=offer_id, **fields)
            self._event(events, "assigned", **fields)
            return events

    def offer_reject(self, *, offer_id, agent_id, now_ms):
        with self._lock:
            self._own_offer(offer_id, agent_id)
            return self._decline(offer_id, "rejected", now_ms, self._token())

    def offer_expire(self, *, offer_id, now_ms):
        with self._lock:
            offer = self.offers.get(offer_id)
            if offer is None or offer["expires"] > now_ms:
                return []
            return self._decline(offer_id, "expired", now_ms, self._token())

    def work_reevaluate(self, *, ref, now_ms):
        with self._lock:
            item = self.items.get(ref)
            if item is None or item["state"] != "waiting":
                return []
            events: list[Event] = []
            token = self._token()
            if item["sticky_until"] and now_ms >= item["sticky_until"]:
                item["sticky_until"] = 0
            if item["declined_until"] and now_ms >= item["declined_until"]:
                item.update(declined=0, declined_until=0)
            if item["overflow_at"] and now_ms >= item["overflow_at"]:
                source = item["queue"]
                target = self.queues.get(source, {}).get("overflow", 0)
                if target in self.queues:
                    item.update(queue=target, qat=now_ms, overflow_at=self._overflow_at(target, now_ms))
                    self._place(item)
                    self._event(events, "overflowed", ref=ref, queue=source, to=target)
                    self._requeue(item, now_ms, token, events)
                    return events
                item["overflow_at"] = 0
            self._place(item)
            self._match_item(item, now_ms, token, events)
            return events

    def rematch(self, *, now_ms):
        with self._lock:
            events: list[Event] = []
            token = self._token()
            waiting = [i for i in self.items.values() if i["state"] == "waiting"]
            waiting.sort(key=lambda i: (work_score(priority=i["prio"], enqueued_ms=i["enq"]), str(i["ref"])))
            for item in waiting:
                self._match_item(item, now_ms, token, events)
            return events

    # --- console presence -------------------------------------------------------------------------------
    def _consoles_prune(self, agent_id: int, now_ms: int) -> dict[str, int]:
        """Drop the agent's lapsed consoles; keep the lapse index on when its last one went away."""
        consoles = self.consoles.get(agent_id, {})
        for console, deadline in list(consoles.items()):
            if deadline <= now_ms:
                del consoles[console]
        if consoles:
            self.lapse[agent_id] = max(consoles.values())
        return consoles

    def console_beat(self, *, agent_id, console, now_ms, ttl_ms):
        with self._lock:
            self.consoles.setdefault(agent_id, {})[console] = now_ms + ttl_ms
            self._consoles_prune(agent_id, now_ms)

    def console_close(self, *, agent_id, console, now_ms):
        with self._lock:
            consoles = self.consoles.get(agent_id, {})
            consoles.pop(console, None)
            left = len(self._consoles_prune(agent_id, now_ms))
            if not left:
                self.consoles.pop(agent_id, None)
                self.lapse[agent_id] = now_ms
            return left

    def console_expect(self, *, agent_id, now_ms):
        with self._lock:
            if self._consoles_prune(agent_id, now_ms) or agent_id in self.lapse:
                return False
            self.consoles.pop(agent_id, None)
            self.lapse[agent_id] = now_ms
            return True

    def console_count(self, *, agent_id, now_ms):
        with self._lock:
            return sum(1 for deadline in self.consoles.get(agent_id, {}).values() if deadline > now_ms)

    def consoles_lapsed(self, *, now_ms, grace_ms, limit=500):
        with self._lock:
            found = []
            for agent_id, since in sorted(self.lapse.items(), key=lambda kv: (kv[1], kv[0])):
                if since > now_ms - grace_ms or len(found) >= limit:
                    break
                if self._consoles_prune(agent_id, now_ms):
                    continue  # a console still lives: its deadline moved the lapse time on
                self.consoles.pop(agent_id, None)
                del self.lapse[agent_id]
                found.append(agent_id)
            return found

    # --- reads ------------------------------------------------------------------------------------------
    def due(self, *, now_ms, limit=500):
        with self._lock:
            offers, items = self._due_offers(now_ms), self._due_items(now_ms)
            return [oid for _, oid in offers[:limit]], [ref for _, ref in items[:limit]]

    def queue_waiting(self, *, queue_id):
        with self._lock:
            return [{"ref": i["ref"], "priority": i["prio"], "enqueued_ms": i["enq"]} for i in self._waiting(queue_id)]

    def work_position(self, *, ref):
        with self._lock:
            item = self.items.get(ref)
            if item is None or item["state"] != "waiting":
                return None
            return self._position(ref)

    def queue_positions(self, *, queue_id):
        with self._lock:
            return {item["ref"]: n for n, item in enumerate(self._waiting(queue_id), start=1)}

    def work_get(self, *, ref):
        with self._lock:
            item = self.items.get(ref)
            if item is None:
                return None
            return {k: item[k] for k in ("ref", "queue", "kind", "state", "agent", "offer", "prio", "enq")}

    def agent_get(self, *, agent_id):
        with self._lock:
            agent = self.agents.get(agent_id)
            if agent is None:
                return None
            load = {k: v for k, v in agent["load"].items() if v}
            return {"status": agent["status"], "load": load, "total": agent["total"], "missed": agent["missed"]}

    def restore(self, *, agents, items, seq, now_ms):
        with self._lock:
            for spec in agents:
                self.agents[spec["agent_id"]] = {
                    "status": spec["status"],
                    "caps": {str(k): int(v) for k, v in (spec["capacity"] or {}).items()},
                    "default": int(spec["default_capacity"]),
                    "skills": set(spec["skills"]),
                    "queues": [int(q) for q in spec["queue_ids"]],
                    "away_after": int(spec["away_after"]),
                    "load": {},
                    "total": 0,
                    "idle": now_ms,
                    "rr": 0,
                    "missed": int(spec.get("missed", 0)),
                    "offers": set(),
                }
                self._touch(spec["agent_id"])
            for spec in items:
                item = {
                    "ref": spec["ref"],
                    "queue": spec["queue_id"],
                    "kind": spec["kind"],
                    "prio": int(spec["priority"]),
                    "skills": tuple(spec["skills"]),
                    "pref": int(spec["preferred_agent_id"] or 0),
                    "enq": int(spec["enqueued_ms"]),
                    "qat": int(spec["queued_ms"]),
                    "state": "waiting",
                    "agent": 0,
                    "offer": "",
                    "policy": "",
                    "sticky_until": 0,
                    "declined": 0,
                    "declined_until": 0,
                    "overflow_at": self._overflow_at(spec["queue_id"], int(spec["queued_ms"])),
                }
                if spec["state"] == "assigned" and spec["agent_id"] in self.agents:
                    agent = self.agents[spec["agent_id"]]
                    item.update(state="assigned", agent=spec["agent_id"], policy=spec.get("policy", ""))
                    agent["load"][item["kind"]] = agent["load"].get(item["kind"], 0) + 1
                    agent["total"] += 1
                    self._touch(spec["agent_id"])
                self.items[item["ref"]] = item
                self._place(item)
            self.seq = max(self.seq, int(seq))
