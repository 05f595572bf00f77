"""The rules of the in-memory backend: its state (queues, agents, items, open offers) and how it decides
on it (which agent gets which item, offers, declines, withdrawals). The operations of memory.py call
these as the Redis functions call `lua/prelude.lua`; this is the reference those implement."""

from __future__ import annotations

from typing import Any

from routing.backends.base import Event
from routing.backends.memory_index import MemoryIndex
from routing.exceptions import RoutingError

_MAX_OFFERS_PER_CALL = 1000


class MemoryRules(MemoryIndex):
    """The state and the decisions on it; the caller holds the backend's lock. The indexes they read
    (waiting work, ready agents, timers: memory_index.py) follow every change (`_place`, `_touch`)."""

    queues: dict[int, dict[str, Any]]
    agents: dict[int, dict[str, Any]]
    items: dict[int, dict[str, Any]]
    offers: dict[str, dict[str, Any]]
    seq: int
    rr: int

    # --- state ------------------------------------------------------------------------------------------
    def _event(self, events: list[Event], kind: str, **fields: Any) -> None:
        self.seq += 1
        events.append({"kind": kind, "seq": self.seq, **fields})

    @staticmethod
    def _skills_ok(agent: dict[str, Any], item: dict[str, Any]) -> bool:
        return agent["skills"].issuperset(item["skills"])

    @staticmethod
    def _open_to(item: dict[str, Any], agent_id: int, now_ms: int) -> bool:
        if item["declined"] == agent_id and now_ms < item["declined_until"]:
            return False
        return not (item["pref"] and item["pref"] != agent_id and now_ms < item["sticky_until"])

    def _overflow_at(self, queue_id: int, queued_ms: int) -> int:
        queue = self.queues.get(queue_id)
        if not queue or not queue["max_wait_ms"] or not queue["overflow"]:
            return 0
        return queued_ms + queue["max_wait_ms"]

    # --- decisions -------------------------------------------------------------------------------
    def _offer(self, item: dict[str, Any], agent_id: int, policy: str, now_ms: int, token: str, events) -> None:
        agent = self.agents[agent_id]
        queue = self.queues[item["queue"]]
        offer_id = f"{token}-{len(events)}"
        expires = now_ms + queue["offer_ms"]
        item.update(state="offered", agent=agent_id, offer=offer_id, policy=policy)
        agent["load"][item["kind"]] = agent["load"].get(item["kind"], 0) + 1
        agent["total"] += 1
        self.rr += 1
        agent["rr"] = self.rr
        agent["offers"].add(offer_id)
        self.offers[offer_id] = {"ref": item["ref"], "agent": agent_id, "expires": expires, "policy": policy}
        self._offer_due_at(offer_id, expires)
        self._place(item)
        self._touch(agent_id)
        self._event(
            events,
            "offered",
            ref=item["ref"],
            queue=item["queue"],
            agent=agent_id,
            offer=offer_id,
            expires=expires,
            policy=policy,
        )

    def _match_item(self, item: dict[str, Any], now_ms: int, token: str, events) -> bool:
        queue = self.queues.get(item["queue"])
        if item["state"] != "waiting" or not queue or queue["policy"] == "manual":
            return False
        pref = item["pref"]
        if pref and self._open_to(item, pref, now_ms):
            agent = self.agents.get(pref)
            if (
                agent
                and agent["status"] == "available"
                and item["queue"] in agent["queues"]
                and self._free(agent, item["kind"])
                and self._skills_ok(agent, item)
            ):
                self._offer(item, pref, "preferred", now_ms, token, events)
                return True
        if pref and now_ms < item["sticky_until"]:
            return False
        for _, _, agent_id in self._ready(item["queue"], item["kind"]):
            if self._open_to(item, agent_id, now_ms) and self._skills_ok(self.agents[agent_id], item):
                self._offer(item, agent_id, queue["policy"], now_ms, token, events)
                return True
        return False

    def _match_agent(self, agent_id: int, now_ms: int, token: str, events) -> None:
        agent = self.agents.get(agent_id)
        for _ in range(_MAX_OFFERS_PER_CALL):
            if not agent or agent["status"] != "available":
                return
            # The first item it can take of each kind it has room for in each of its queues (each list is
            # in order); the oldest of those. A list's scan stops at the best found so far.
            best = None
            for queue_id in agent["queues"]:
                queue = self.queues.get(queue_id)
                if not queue or queue["policy"] == "manual":
                    continue
                for kind, entries in self._waiting_lists(queue_id).items():
                    if not self._free(agent, kind):
                        continue
                    for entry in entries:
                        if best is not None and entry > best[0]:
                            break
                        item = self.items[entry[2]]
                        if self._skills_ok(agent, item) and self._open_to(item, agent_id, now_ms):
                            best = (entry, item, queue["policy"])
                            break
            if best is None:
                return
            _, item, policy = best
            self._offer(item, agent_id, "preferred" if item["pref"] == agent_id else policy, now_ms, token, events)

    def _close_offer(self, offer_id: str) -> dict[str, Any]:
        offer = self.offers.pop(offer_id)
        agent = self.agents[offer["agent"]]
        agent["offers"].discard(offer_id)
        return offer

    def _unload(self, agent_id: int, kind: str) -> None:
        agent = self.agents.get(agent_id)
        if agent:
            agent["load"][kind] = max(0, agent["load"].get(kind, 0) - 1)
            agent["total"] = max(0, agent["total"] - 1)
            self._touch(agent_id)

    def _release_holder(self, item: dict[str, Any], detail: str, now_ms: int, events) -> int:
        """Free the agent that holds or is offered the item; returns that agent's id (0 when none). The
        caller places the item (`_place`) once it has changed it further or deleted it."""
        holder = item["agent"]
        if item["state"] == "offered":
            offer = self._close_offer(item["offer"])
            self._unload(holder, item["kind"])
            self._event(
                events,
                "offer_cancelled",
                ref=item["ref"],
                queue=item["queue"],
                agent=holder,
                offer=item["offer"],
                policy=offer["policy"],
            )
        elif item["state"] == "assigned":
            self._unload(holder, item["kind"])
            if holder in self.agents:
                self.agents[holder]["idle"] = now_ms
            self._event(events, "released", ref=item["ref"], queue=item["queue"], agent=holder, detail=detail)
        item.update(state="waiting", agent=0, offer="", policy="")
        return holder

    def _requeue(self, item: dict[str, Any], now_ms: int, token: str, events) -> None:
        if not self._match_item(item, now_ms, token, events):
            self._event(events, "queued", ref=item["ref"], queue=item["queue"])

    def _decline(self, offer_id: str, reason: str, now_ms: int, token: str) -> list[Event]:
        events: list[Event] = []
        offer = self._close_offer(offer_id)
        agent_id = offer["agent"]
        agent = self.agents[agent_id]
        item = self.items[offer["ref"]]
        self._unload(agent_id, item["kind"])
        queue = self.queues.get(item["queue"])
        item.update(
            state="waiting",
            agent=0,
            offer="",
            policy="",
            declined=agent_id,
            declined_until=now_ms + (queue["offer_ms"] if queue else 0),
        )
        self._place(item)
        self._event(
            events, reason, ref=item["ref"], queue=item["queue"], agent=agent_id, offer=offer_id, policy=offer["policy"]
        )
        went_away = False
        if reason == "expired":
            agent["missed"] += 1
            if agent["away_after"] and agent["missed"] >= agent["away_after"] and agent["status"] == "available":
                agent["status"] = "away"
                agent["missed"] = 0
                self._touch(agent_id)
                went_away = True
        else:
            agent["missed"] = 0
        self._requeue(item, now_ms, token, events)
        if went_away:
            self._event(events, "agent_status", agent=agent_id, status="away", detail="missed_offers")
            self._withdraw_offers(agent_id, now_ms, token, events)
        else:
            self._match_agent(agent_id, now_ms, token, events)
        return events

    def _withdraw_offers(self, agent_id: int, now_ms: int, token: str, events) -> None:
        """An agent left: its open offers go to other agents at once."""
        for offer_id in sorted(self.agents[agent_id]["offers"], key=lambda o: self.offers[o]["ref"]):
            item = self.items[self.offers[offer_id]["ref"]]
            self._release_holder(item, "withdrawn", now_ms, events)
            item.update(declined=agent_id, declined_until=now_ms + self.queues[item["queue"]]["offer_ms"])
            self._place(item)
            self._requeue(item, now_ms, token, events)

    def _assign(self, item, agent_id, policy, events) -> None:
        agent = self.agents[agent_id]
        item.update(state="assigned", agent=agent_id, offer="", policy=policy)
        agent["load"][item["kind"]] = agent["load"].get(item["kind"], 0) + 1
        agent["total"] += 1
        self._place(item)
        self._touch(agent_id)
        self._event(events, "assigned", ref=item["ref"], queue=item["queue"], agent=agent_id, policy=policy)

    def _own_offer(self, offer_id: str, agent_id: int) -> dict[str, Any]:
        offer = self.offers.get(offer_id)
        if offer is None:
            raise RoutingError("offer_gone", "This offer was answered, withdrawn or has expired.")
        if offer["agent"] != agent_id:
            raise RoutingError("not_yours", "This offer was made to another agent.")
        return offer
