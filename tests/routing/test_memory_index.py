"""The in-memory backend's indexes (routing/backends/memory_index.py) never drift from its state: the
random sequences of the equivalence suite run on the indexed backend beside one that reads every
index from a scan of all items and agents (how the backend decided before it had indexes), with the same
events, refusals, waiting order, positions and due timers; after every step each index equals its scan.
No Redis needed."""

from __future__ import annotations

from hypothesis.stateful import invariant

from routing.backends import channel_kinds
from routing.backends.base import work_score
from routing.backends.memory import MemoryBackend
from tests.routing.test_backend_equivalence import QUEUES, Twins, run_twins


def waiting_scan(backend: MemoryBackend, queue_id: int) -> dict[str, list]:
    """The queue's waiting entries per kind, from every item."""
    entries = sorted(
        (work_score(priority=i["prio"], enqueued_ms=i["enq"]), str(i["ref"]), i["ref"], i["kind"])
        for i in backend.items.values()
        if i["queue"] == queue_id and i["state"] == "waiting"
    )
    lists: dict[str, list] = {}
    for score, sref, ref, kind in entries:
        lists.setdefault(kind, []).append((score, sref, ref))
    return lists


def ready_scan(backend: MemoryBackend, queue_id: int, kind: str) -> list:
    """The agents the queue may offer work of this kind to, from every agent, best first."""
    policy = backend.queues[queue_id]["policy"]
    return sorted(
        backend._rank(agent, agent_id, policy)
        for agent_id, agent in backend.agents.items()
        if agent["status"] == "available" and queue_id in agent["queues"] and backend._free(agent, kind)
    )


class ScanningBackend(MemoryBackend):
    """The memory backend with every index read replaced by a scan of all its items and agents."""

    def mark_built(self) -> None:
        pass

    def _waiting_lists(self, queue_id):
        return waiting_scan(self, queue_id)

    def _waiting(self, queue_id):
        entries = sorted(e for entries in waiting_scan(self, queue_id).values() for e in entries)
        return [self.items[e[2]] for e in entries]

    def _position(self, ref):
        return [i["ref"] for i in self._waiting(self.items[ref]["queue"])].index(ref) + 1

    def _ready(self, queue_id, kind):
        return ready_scan(self, queue_id, kind)

    def due(self, *, now_ms, limit=500):
        offers = sorted((o["expires"], oid) for oid, o in self.offers.items() if o["expires"] <= now_ms)
        items = []
        for item in self.items.values():
            timers = [t for t in (item["sticky_until"], item["declined_until"], item["overflow_at"]) if t]
            if item["state"] == "waiting" and timers and min(timers) <= now_ms:
                items.append((min(timers), item["ref"]))
        items.sort()
        return [oid for _, oid in offers[:limit]], [ref for _, ref in items[:limit]]


class IndexedAndScanning(Twins):
    """`memory` is the indexed backend, `redis` the scanning one."""

    def twin(self):
        return ScanningBackend(channel_kinds=channel_kinds())

    def forget_consoles(self) -> None:
        pass

    @invariant()
    def indexes_equal_scans(self):
        backend = self.memory
        for queue_id in (*QUEUES, 99):
            assert backend._waiting_lists(queue_id) == waiting_scan(backend, queue_id)
        backend._ready_sync()
        for (queue_id, kind), entries in backend._ready_idx.items():
            assert entries == ready_scan(backend, queue_id, kind), (queue_id, kind)


def test_indexes_decide_as_the_scans():
    run_twins(IndexedAndScanning, 150)
