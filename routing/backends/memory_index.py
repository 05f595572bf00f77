"""The in-memory backend's indexes, so that a decision does not scan every item or agent (the same
indexes the Redis functions keep as sorted sets, docs/routing.md "The in-memory backend's indexes"):

* waiting work: per queue and channel kind, a sorted list of `(work_score, str(ref), ref)` of the
  waiting items (the Redis `waiting:<kind>` sets and their order, the ref as a string breaking ties);
* ready agents: per queue and channel kind, a sorted list of `(agent_score, str(agent_id), agent_id)`
  of the available agents serving the queue with room for that kind, scored by the queue's policy (the
  Redis `ready:<kind>` sets). A queue's list for a kind is built from every agent the first time an
  item of that kind is matched in it; from then on each changed agent is rewritten where its place
  changed, when the index is next read (an agent changes several times within one decision);
* timers: a heap of `(due, ref)` of the waiting items' next timer and one of `(expires, offer_id)` of
  the open offers; entries left behind by a change are dropped when they come up (lazy deletion), and
  a heap grown to twice its live entries (plus 1,024) is rebuilt from them.

The lists are plain Python lists kept in order with `bisect`: inserting or removing is a binary search
and a memmove, which for tens of thousands of entries costs microseconds.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from itertools import chain
from typing import Any

from routing.backends.base import agent_score, work_score

Entry = tuple[float, str, Any]


def _remove(entries: list[Entry], entry: Entry) -> None:
    index = bisect_left(entries, entry)
    if index < len(entries) and entries[index] == entry:
        del entries[index]


class MemoryIndex:
    """The indexes of the in-memory state; every change of an item's state, queue or timers is followed
    by `_place(item)`, every change of an agent by `_touch(agent_id)`."""

    queues: dict[int, dict[str, Any]]
    agents: dict[int, dict[str, Any]]
    items: dict[Any, dict[str, Any]]
    offers: dict[str, dict[str, Any]]

    def _index_reset(self) -> None:
        self._waiting_idx: dict[int, dict[str, list[Entry]]] = {}
        self._listed: dict[Any, tuple[int, str, Entry]] = {}
        self._timer_at: dict[Any, int] = {}
        self._timer_heap: list[tuple[int, Any]] = []
        self._offer_heap: list[tuple[int, str]] = []
        self._ready_idx: dict[tuple[int, str], list[Entry]] = {}
        self._ready_kinds: dict[int, set[str]] = {}
        self._ready_at: dict[int, dict[tuple[int, str], Entry]] = {}
        self._dirty: set[int] = set()

    # --- capacity ---------------------------------------------------------------------------------------
    @staticmethod
    def _cap(agent: dict[str, Any], kind: str) -> int:
        return int(agent["caps"].get(kind, agent["default"]))

    def _free(self, agent: dict[str, Any], kind: str) -> bool:
        return agent["load"].get(kind, 0) < self._cap(agent, kind)

    # --- waiting work and item timers ---------------------------------------------------------------------
    def _place(self, item: dict[str, Any]) -> None:
        """Put the item where its state says: in its queue's waiting list while it waits (and is still
        known), its next timer in the timer heap."""
        ref = item["ref"]
        listed = self._listed.get(ref)
        timer = 0
        if item["state"] == "waiting" and self.items.get(ref) is item:
            score = work_score(priority=item["prio"], enqueued_ms=item["enq"])
            want = (item["queue"], item["kind"], (score, str(ref), ref))
            if listed != want:
                if listed is not None:
                    self._unlist(listed)
                insort(self._waiting_idx.setdefault(want[0], {}).setdefault(want[1], []), want[2])
                self._listed[ref] = want
            timers = [t for t in (item["sticky_until"], item["declined_until"], item["overflow_at"]) if t]
            timer = min(timers) if timers else 0
        elif listed is not None:
            self._unlist(listed)
            del self._listed[ref]
        if timer:
            if self._timer_at.get(ref) != timer:
                self._timer_at[ref] = timer
                heapq.heappush(self._timer_heap, (timer, ref))
                if len(self._timer_heap) > 2 * len(self._timer_at) + 1024:
                    self._timer_heap = [(t, r) for r, t in self._timer_at.items()]
                    heapq.heapify(self._timer_heap)
        else:
            self._timer_at.pop(ref, None)

    def _unlist(self, listed: tuple[int, str, Entry]) -> None:
        queue_id, kind, entry = listed
        by_kind = self._waiting_idx[queue_id]
        entries = by_kind[kind]
        _remove(entries, entry)
        if not entries:
            del by_kind[kind]
            if not by_kind:
                del self._waiting_idx[queue_id]

    def _waiting_lists(self, queue_id: int) -> dict[str, list[Entry]]:
        """The queue's waiting entries per channel kind, each list in order (do not change them)."""
        return self._waiting_idx.get(queue_id, {})

    def _waiting(self, queue_id: int) -> list[dict[str, Any]]:
        lists = list(self._waiting_lists(queue_id).values())
        entries = lists[0] if len(lists) == 1 else sorted(chain.from_iterable(lists))
        return [self.items[entry[2]] for entry in entries]

    def _position(self, ref: Any) -> int | None:
        listed = self._listed.get(ref)
        if listed is None:
            return None
        return 1 + sum(bisect_left(entries, listed[2]) for entries in self._waiting_lists(listed[0]).values())

    def _offer_due_at(self, offer_id: str, expires: int) -> None:
        heapq.heappush(self._offer_heap, (expires, offer_id))
        if len(self._offer_heap) > 2 * len(self.offers) + 1024:
            self._offer_heap = [(o["expires"], oid) for oid, o in self.offers.items()]
            heapq.heapify(self._offer_heap)

    @staticmethod
    def _due_from(heap: list[tuple[int, Any]], now_ms: int, valid) -> list[tuple[int, Any]]:
        """The heap's valid entries due by now, in order; stale ones are dropped, valid ones kept."""
        found: list[tuple[int, Any]] = []
        seen = set()
        while heap and heap[0][0] <= now_ms:
            entry = heapq.heappop(heap)
            if entry[1] not in seen and valid(entry):
                seen.add(entry[1])
                found.append(entry)
        for entry in found:
            heapq.heappush(heap, entry)
        return found

    def _due_items(self, now_ms: int) -> list[tuple[int, Any]]:
        return self._due_from(self._timer_heap, now_ms, lambda e: self._timer_at.get(e[1]) == e[0])

    def _due_offers(self, now_ms: int) -> list[tuple[int, str]]:
        def valid(entry: tuple[int, str]) -> bool:
            offer = self.offers.get(entry[1])
            return offer is not None and offer["expires"] == entry[0]

        return self._due_from(self._offer_heap, now_ms, valid)

    # --- ready agents -----------------------------------------------------------------------------------
    def _touch(self, agent_id: int) -> None:
        """The agent's status, load, idle time, queues or capacity changed: its ready entries are
        rewritten when the index is next read."""
        self._dirty.add(agent_id)

    def _ready_drop(self, queue_id: int) -> None:
        """Forget the queue's ready lists (its policy changed, so every score did): rebuilt when read."""
        for kind in self._ready_kinds.pop(queue_id, ()):
            del self._ready_idx[(queue_id, kind)]
        for shown in self._ready_at.values():
            for key in [key for key in shown if key[0] == queue_id]:
                del shown[key]

    @staticmethod
    def _rank(agent: dict[str, Any], agent_id: int, policy: str) -> Entry:
        total, default, idle = agent["total"], agent["default"], agent["idle"]
        score = agent_score(policy=policy, total=total, default_capacity=default, idle_ms=idle, rr=agent["rr"])
        return score, str(agent_id), agent_id

    def _ready(self, queue_id: int, kind: str) -> list[Entry]:
        """The agents the queue may offer work of this kind to, best first (do not change the list)."""
        self._ready_sync()
        entries = self._ready_idx.get((queue_id, kind))
        if entries is None:
            policy = self.queues[queue_id]["policy"]
            entries = []
            for agent_id, agent in self.agents.items():
                if agent["status"] == "available" and queue_id in agent["queues"] and self._free(agent, kind):
                    entry = self._rank(agent, agent_id, policy)
                    entries.append(entry)
                    self._ready_at.setdefault(agent_id, {})[(queue_id, kind)] = entry
            entries.sort()
            self._ready_idx[(queue_id, kind)] = entries
            self._ready_kinds.setdefault(queue_id, set()).add(kind)
        return entries

    def _ready_sync(self) -> None:
        """Rewrite the ready entries of the agents that changed since the index was last read."""
        if self._dirty:
            for agent_id in self._dirty:
                self._show(agent_id)
            self._dirty.clear()

    def _show(self, agent_id: int) -> None:
        """Rewrite the agent's ready entries where its place changed."""
        agent = self.agents.get(agent_id)
        want: dict[tuple[int, str], Entry] = {}
        if agent is not None and agent["status"] == "available":
            for queue_id in agent["queues"]:
                kinds = self._ready_kinds.get(queue_id)
                if kinds:
                    entry = self._rank(agent, agent_id, self.queues[queue_id]["policy"])
                    for kind in kinds:
                        if self._free(agent, kind):
                            want[(queue_id, kind)] = entry
        shown = self._ready_at.get(agent_id, {})
        if shown == want:
            return
        for key, entry in shown.items():
            if want.get(key) != entry:
                _remove(self._ready_idx[key], entry)
        for key, entry in want.items():
            if shown.get(key) != entry:
                insort(self._ready_idx[key], entry)
        self._ready_at[agent_id] = want
