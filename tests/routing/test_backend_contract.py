"""One contract for every routing backend, run against the in-memory and the Redis backend (the shape
of Django's tests/cache/tests.py: a base class of tests, one subclass per backend).
One module of about 520 lines: the contract is one list of cases that every backend must pass, read
together."""

from __future__ import annotations

import pytest
from django.conf import settings

from routing.backends import channel_kinds
from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.exceptions import RoutingError

T0 = 1_800_000_000_000


def kinds(events):
    return [e["kind"] for e in events]


def offers(events):
    return [(e["ref"], e["agent"]) for e in events if e["kind"] == "offered"]


class BaseRoutingBackendTests:
    def make_backend(self):
        raise NotImplementedError

    @pytest.fixture
    def b(self):
        backend = self.make_backend()
        backend.flush()
        backend.mark_built()  # an empty backend is in step with an empty database
        yield backend
        backend.flush()

    # helpers
    def queue(self, b, queue_id=1, policy="least_busy", offer_ms=30_000, sticky_ms=0, max_wait_ms=0, overflow=0):
        b.queue_set(
            queue_id=queue_id,
            policy=policy,
            offer_timeout_ms=offer_ms,
            sticky_window_ms=sticky_ms,
            max_wait_ms=max_wait_ms,
            overflow_queue_id=overflow,
        )

    def agent(self, b, agent_id, status="available", queues=(1,), skills=(), cap=3, caps=None, away_after=0, now=T0):
        return b.agent_set(
            agent_id=agent_id,
            status=status,
            capacity=caps or {},
            default_capacity=cap,
            skills=list(skills),
            queue_ids=list(queues),
            away_after=away_after,
            now_ms=now,
        )

    def enqueue(self, b, ref, queue=1, kind="web", priority=0, skills=(), pref=0, enq=None, now=T0):
        return b.work_enqueue(
            ref=ref,
            queue_id=queue,
            kind=kind,
            priority=priority,
            skills=list(skills),
            preferred_agent_id=pref,
            enqueued_ms=enq if enq is not None else now,
            now_ms=now,
        )

    def waiting(self, b, queue=1):
        return [row["ref"] for row in b.queue_waiting(queue_id=queue)]

    # --- the queue ------------------------------------------------------------------------------------
    def test_enqueue_without_agents_waits_in_fifo_order_within_priority(self, b):
        self.queue(b)
        assert kinds(self.enqueue(b, 10, enq=T0 + 2)) == ["queued"]
        self.enqueue(b, 11, enq=T0 + 1)
        self.enqueue(b, 12, enq=T0 + 3, priority=5)
        self.enqueue(b, 13, enq=T0 + 0)
        assert self.waiting(b) == [12, 13, 11, 10]
        assert b.work_position(ref=10) == 4
        assert b.work_position(ref=12) == 1
        assert b.work_position(ref=999) is None

    def test_queue_positions_are_every_waiting_items_position_at_once(self, b):
        self.queue(b)
        self.queue(b, queue_id=2)
        self.agent(b, 5, cap=1)
        self.enqueue(b, 10, enq=T0 + 1)  # offered to agent 5: no longer waiting
        self.enqueue(b, 11, enq=T0 + 3)
        self.enqueue(b, 12, enq=T0 + 4, priority=5)
        self.enqueue(b, 13, enq=T0 + 2)
        self.enqueue(b, 20, queue=2)
        assert b.queue_positions(queue_id=1) == {12: 1, 13: 2, 11: 3}
        assert b.queue_positions(queue_id=1) == {ref: b.work_position(ref=ref) for ref in (11, 12, 13)}
        assert b.queue_positions(queue_id=2) == {20: 1}
        assert b.queue_positions(queue_id=3) == {}

    def test_enqueue_is_idempotent_and_unknown_queue_is_refused(self, b):
        self.queue(b)
        self.enqueue(b, 1)
        assert self.enqueue(b, 1) == []
        assert self.waiting(b) == [1]
        with pytest.raises(RoutingError) as error:
            self.enqueue(b, 2, queue=77)
        assert error.value.code == "unknown_queue"
        assert self.waiting(b) == [1]

    def test_available_agent_gets_offer_and_capacity_is_reserved(self, b):
        self.queue(b)
        self.agent(b, 5, cap=2)
        events = self.enqueue(b, 1)
        assert kinds(events) == ["offered"]
        offer = events[0]
        assert (offer["ref"], offer["agent"], offer["queue"], offer["policy"]) == (1, 5, 1, "least_busy")
        assert offer["expires"] == T0 + 30_000
        assert offers(self.enqueue(b, 2)) == [(2, 5)]
        assert kinds(self.enqueue(b, 3)) == ["queued"]
        assert b.agent_get(agent_id=5)["total"] == 2
        assert b.work_get(ref=3)["state"] == "waiting"

    def test_seq_rises(self, b):
        self.queue(b)
        events = self.agent(b, 5) + self.enqueue(b, 1) + self.enqueue(b, 2)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    def test_agent_becoming_available_takes_oldest_it_can_and_skills_filter(self, b):
        self.queue(b)
        self.enqueue(b, 1, skills=["french"], enq=T0)
        self.enqueue(b, 2, enq=T0 + 1)
        self.enqueue(b, 3, enq=T0 + 2)
        events = self.agent(b, 5, cap=1)
        assert kinds(events) == ["agent_status", "offered"]
        assert offers(events) == [(2, 5)]
        assert offers(self.agent(b, 6, cap=5, skills=["french"])) == [(1, 6), (3, 6)]

    def test_capacity_per_channel_kind(self, b):
        self.queue(b)
        self.agent(b, 5, cap=1, caps={"whatsapp": 2})
        assert offers(self.enqueue(b, 1, kind="web")) == [(1, 5)]
        assert kinds(self.enqueue(b, 2, kind="web")) == ["queued"]
        assert offers(self.enqueue(b, 3, kind="whatsapp")) == [(3, 5)]
        assert offers(self.enqueue(b, 4, kind="whatsapp")) == [(4, 5)]
        assert kinds(self.enqueue(b, 5, kind="whatsapp")) == ["queued"]
        assert b.agent_get(agent_id=5)["load"] == {"web": 1, "whatsapp": 2}

    # --- policies -------------------------------------------------------------------------------------
    def test_least_busy_spreads_evenly(self, b):
        self.queue(b)
        for agent_id in (1, 2, 3):
            self.agent(b, agent_id, cap=3)
        got = [offers(self.enqueue(b, ref))[0][1] for ref in range(1, 7)]
        assert sorted(got) == [1, 1, 2, 2, 3, 3]
        assert got[:3] == sorted(got[:3]) or len(set(got[:3])) == 3

    def test_least_busy_relative_to_capacity(self, b):
        self.queue(b)
        self.agent(b, 1, cap=1)
        self.agent(b, 2, cap=4)
        assert offers(self.enqueue(b, 1))[0][1] in (1, 2)
        got = [offers(self.enqueue(b, ref))[0][1] for ref in range(2, 5)]
        assert got.count(2) >= 2

    def test_round_robin_rotates(self, b):
        self.queue(b, policy="round_robin")
        for agent_id in (1, 2, 3):
            self.agent(b, agent_id, cap=10)
        got = [offers(self.enqueue(b, ref))[0][1] for ref in range(1, 7)]
        assert got[:3] == [1, 2, 3]
        assert got[3:] == got[:3]

    def test_longest_idle_prefers_the_agent_idle_longest(self, b):
        self.queue(b, policy="longest_idle")
        self.agent(b, 1, now=T0 + 500)
        self.agent(b, 2, now=T0 + 100)
        self.agent(b, 3, now=T0 + 300)
        assert offers(self.enqueue(b, 1, now=T0 + 1000)) == [(1, 2)]
        assert offers(self.enqueue(b, 2, now=T0 + 1000)) == [(2, 3)]

    def test_manual_queue_makes_no_offers_and_pick_assigns(self, b):
        self.queue(b, policy="manual")
        self.agent(b, 5, cap=1)
        self.agent(b, 6, queues=(2,))
        assert kinds(self.enqueue(b, 1)) == ["queued"]
        self.enqueue(b, 2)
        with pytest.raises(RoutingError) as error:
            b.work_pick(ref=1, agent_id=6, now_ms=T0)
        assert error.value.code == "not_yours"
        events = b.work_pick(ref=2, agent_id=5, now_ms=T0)
        assert [(e["kind"], e["ref"], e["agent"], e["policy"]) for e in events] == [("assigned", 2, 5, "manual")]
        with pytest.raises(RoutingError) as error:
            b.work_pick(ref=1, agent_id=5, now_ms=T0)
        assert error.value.code == "over_capacity"
        with pytest.raises(RoutingError) as error:
            b.work_pick(ref=2, agent_id=5, now_ms=T0)
        assert error.value.code == "not_waiting"
        with pytest.raises(RoutingError) as error:
            b.work_pick(ref=1, agent_id=404, now_ms=T0)
        assert error.value.code == "unknown_agent"
        assert self.waiting(b) == [1]

    # --- offers ---------------------------------------------------------------------------------------
    def test_accept_assigns_and_checks_the_agent(self, b):
        self.queue(b)
        self.agent(b, 5)
        offer_id = self.enqueue(b, 1)[0]["offer"]
        with pytest.raises(RoutingError) as error:
            b.offer_accept(offer_id=offer_id, agent_id=6, now_ms=T0)
        assert error.value.code == "not_yours"
        events = b.offer_accept(offer_id=offer_id, agent_id=5, now_ms=T0)
        assert kinds(events) == ["accepted", "assigned"]
        assert b.work_get(ref=1)["state"] == "assigned"
        with pytest.raises(RoutingError) as error:
            b.offer_accept(offer_id=offer_id, agent_id=5, now_ms=T0)
        assert error.value.code == "offer_gone"
        assert b.agent_get(agent_id=5)["total"] == 1

    def test_reject_reoffers_at_once_to_the_next_agent_keeping_the_place(self, b):
        self.queue(b)
        self.agent(b, 5, cap=1)
        self.agent(b, 6, cap=1, status="away")
        offer_id = self.enqueue(b, 1, enq=T0)[0]["offer"]
        self.enqueue(b, 2, enq=T0 + 1)
        events = b.offer_reject(offer_id=offer_id, agent_id=5, now_ms=T0 + 10)
        # Nobody else is free: ref 1 waits at the head again; agent 5 gets the next one instead.
        assert kinds(events) == ["rejected", "queued", "offered"]
        assert offers(events) == [(2, 5)]
        assert self.waiting(b) == [1]
        events = self.agent(b, 6, cap=1, now=T0 + 20)
        assert offers(events) == [(1, 6)]

    def test_reject_goes_to_another_free_agent(self, b):
        self.queue(b)
        self.agent(b, 5)
        self.agent(b, 6)
        first = self.enqueue(b, 1)[0]
        events = b.offer_reject(offer_id=first["offer"], agent_id=first["agent"], now_ms=T0 + 1)
        assert kinds(events) == ["rejected", "offered"]
        assert offers(events)[0][1] != first["agent"]

    def test_expiry_only_after_deadline_and_missed_offers_set_agent_away(self, b):
        self.queue(b, offer_ms=1000)
        self.agent(b, 5, away_after=2, cap=2)
        self.agent(b, 6, status="offline")
        first = self.enqueue(b, 1, now=T0)[0]
        assert b.due(now_ms=T0 + 999) == ([], [])
        assert b.offer_expire(offer_id=first["offer"], now_ms=T0 + 999) == []
        offer_ids, _ = b.due(now_ms=T0 + 1000)
        assert offer_ids == [first["offer"]]
        events = b.offer_expire(offer_id=first["offer"], now_ms=T0 + 1000)
        assert kinds(events) == ["expired", "queued"]
        assert b.agent_get(agent_id=5)["missed"] == 1
        second = self.enqueue(b, 2, now=T0 + 1000)[0]
        events = b.offer_expire(offer_id=second["offer"], now_ms=T0 + 2000)
        assert kinds(events) == ["expired", "queued", "agent_status"]
        assert events[-1]["status"] == "away"
        assert b.agent_get(agent_id=5) == {"status": "away", "load": {}, "total": 0, "missed": 0}
        assert self.waiting(b) == [1, 2]

    def test_agent_going_offline_withdraws_offers(self, b):
        self.queue(b)
        self.agent(b, 5)
        self.enqueue(b, 1)
        self.agent(b, 6)
        events = self.agent(b, 5, status="offline")
        assert kinds(events) == ["agent_status", "offer_cancelled", "offered"]
        assert offers(events) == [(1, 6)]

    def test_complete_frees_capacity_and_offers_the_next(self, b):
        self.queue(b)
        self.agent(b, 5, cap=1)
        offer_id = self.enqueue(b, 1)[0]["offer"]
        b.offer_accept(offer_id=offer_id, agent_id=5, now_ms=T0)
        self.enqueue(b, 2)
        events = b.work_release(ref=1, reason="completed", now_ms=T0 + 5)
        assert kinds(events) == ["released", "offered"]
        assert events[0]["detail"] == "completed"
        assert b.work_get(ref=1) is None
        assert b.work_release(ref=1, reason="completed", now_ms=T0 + 5) == []

    def test_cancel_waiting_and_offered(self, b):
        self.queue(b)
        self.agent(b, 5, cap=1)
        self.enqueue(b, 1)
        self.enqueue(b, 2)
        self.enqueue(b, 3)
        assert kinds(b.work_release(ref=3, reason="abandoned", now_ms=T0)) == ["removed"]
        events = b.work_release(ref=1, reason="abandoned", now_ms=T0)
        assert kinds(events) == ["offer_cancelled", "removed", "offered"]
        assert offers(events) == [(2, 5)]
        assert self.waiting(b) == []

    # --- stickiness, overflow, transfer -----------------------------------------------------------------
    def test_previous_agent_first_then_anyone_after_the_window(self, b):
        self.queue(b, sticky_ms=20_000)
        self.agent(b, 5, cap=1)
        self.agent(b, 6, cap=1)
        events = self.enqueue(b, 1, pref=6)
        assert [(e["agent"], e["policy"]) for e in events] == [(6, "preferred")]
        events = self.enqueue(b, 2, pref=6)
        assert kinds(events) == ["queued"]
        assert self.waiting(b) == [2]
        assert b.due(now_ms=T0 + 19_999)[1] == []
        assert b.due(now_ms=T0 + 20_000)[1] == [2]
        # Agent 5 is free but the item is held for agent 6 until the window ends.
        assert offers(b.work_reevaluate(ref=2, now_ms=T0 + 19_999)) == []
        assert offers(b.work_reevaluate(ref=2, now_ms=T0 + 20_000)) == [(2, 5)]

    def test_sticky_item_waits_for_preferred_agent_not_others(self, b):
        self.queue(b, sticky_ms=20_000)
        self.agent(b, 6, cap=1)
        self.enqueue(b, 9)
        assert kinds(self.enqueue(b, 1, pref=6, now=T0 + 1)) == ["queued"]
        self.agent(b, 5, cap=1, now=T0 + 2)
        assert self.waiting(b) == [1]
        events = b.work_reevaluate(ref=1, now_ms=T0 + 10_000)
        assert offers(events) == []
        assert self.waiting(b) == [1]
        events = b.work_release(ref=9, reason="completed", now_ms=T0 + 10_001)
        assert offers(events) == [(1, 6)]

    def test_sticky_window_ends_and_another_agent_takes_it(self, b):
        self.queue(b, sticky_ms=20_000)
        self.agent(b, 6, cap=1)
        self.enqueue(b, 9)
        self.enqueue(b, 1, pref=6, now=T0 + 1)
        self.agent(b, 5, cap=1, status="away", now=T0 + 2)
        self.agent(b, 5, cap=1, status="available", now=T0 + 3)
        assert self.waiting(b) == [1]
        events = b.work_reevaluate(ref=1, now_ms=T0 + 20_001)
        assert offers(events) == [(1, 5)]

    def test_overflow_after_max_wait(self, b):
        self.queue(b, queue_id=2)
        self.queue(b, queue_id=1, max_wait_ms=60_000, overflow=2)
        self.enqueue(b, 1, enq=T0 - 5000)
        self.enqueue(b, 2, enq=T0 + 10)
        assert b.due(now_ms=T0 + 59_999)[1] == []
        assert b.due(now_ms=T0 + 60_000)[1] == [1, 2]
        events = b.work_reevaluate(ref=1, now_ms=T0 + 60_000)
        assert [(e["kind"], e.get("to")) for e in events] == [("overflowed", 2), ("queued", None)]
        self.enqueue(b, 3, queue=2, enq=T0 + 1)
        assert self.waiting(b, 2) == [1, 3]
        self.agent(b, 7, queues=(2,), cap=1, now=T0 + 60_001)
        assert self.waiting(b, 2) == [3]

    def test_transfer_to_queue_keeps_age_and_to_agent_respects_capacity(self, b):
        self.queue(b, queue_id=1)
        self.queue(b, queue_id=2)
        self.agent(b, 5, cap=1)
        offer_id = self.enqueue(b, 1, enq=T0 - 1000)[0]["offer"]
        b.offer_accept(offer_id=offer_id, agent_id=5, now_ms=T0)
        self.enqueue(b, 2, queue=2, enq=T0)
        events = b.work_transfer(ref=1, queue_id=2, agent_id=0, now_ms=T0 + 1)
        assert kinds(events) == ["released", "queued"]
        assert events[0]["detail"] == "transferred"
        assert self.waiting(b, 2) == [1, 2]
        self.agent(b, 6, queues=(2,), cap=1)
        with pytest.raises(RoutingError) as error:
            b.work_transfer(ref=2, queue_id=0, agent_id=6, now_ms=T0 + 2)
        assert error.value.code == "over_capacity"
        with pytest.raises(RoutingError) as error:
            b.work_transfer(ref=2, queue_id=9, agent_id=0, now_ms=T0 + 2)
        assert error.value.code == "unknown_queue"
        events = b.work_transfer(ref=2, queue_id=0, agent_id=5, now_ms=T0 + 2)
        assert [(e["kind"], e["agent"], e["policy"]) for e in events] == [("assigned", 5, "transfer")]
        assert b.agent_get(agent_id=5)["total"] == 1

    # --- restore ----------------------------------------------------------------------------------------
    def test_restore_brings_back_waiting_order_and_load(self, b):
        self.queue(b)
        b.restore(
            agents=[
                {
                    "agent_id": 5,
                    "status": "available",
                    "capacity": {},
                    "default_capacity": 2,
                    "skills": [],
                    "queue_ids": [1],
                    "away_after": 3,
                }
            ],
            items=[
                {
                    "ref": r,
                    "queue_id": 1,
                    "kind": "web",
                    "priority": 0,
                    "skills": [],
                    "preferred_agent_id": 0,
                    "enqueued_ms": T0 + e,
                    "queued_ms": T0 + e,
                    "state": "waiting",
                    "agent_id": 0,
                    "policy": "",
                }
                for r, e in ((1, 30), (2, 10), (3, 20))
            ]
            + [
                {
                    "ref": 4,
                    "queue_id": 1,
                    "kind": "web",
                    "priority": 0,
                    "skills": [],
                    "preferred_agent_id": 0,
                    "enqueued_ms": T0,
                    "queued_ms": T0,
                    "state": "assigned",
                    "agent_id": 5,
                    "policy": "least_busy",
                }
            ],
            seq=100,
            now_ms=T0,
        )
        assert self.waiting(b) == [2, 3, 1]
        assert b.agent_get(agent_id=5)["total"] == 1
        events = b.rematch(now_ms=T0)
        assert offers(events) == [(2, 5)]
        assert events[0]["seq"] > 100
        assert self.waiting(b) == [3, 1]

    # --- console presence -----------------------------------------------------------------------------
    @pytest.fixture
    def consoles(self, b):
        """The backend with no console presence left by an earlier test (a flush keeps presence)."""
        for agent_id in (5, 6, 7):
            for console in ("c1", "c2", "c3"):
                b.console_close(agent_id=agent_id, console=console, now_ms=0)
        b.consoles_lapsed(now_ms=T0 * 2, grace_ms=0)
        return b

    def test_console_closed_lapses_once_after_the_grace(self, consoles):
        b = consoles
        b.console_beat(agent_id=5, console="c1", now_ms=T0, ttl_ms=30_000)
        b.console_beat(agent_id=5, console="c2", now_ms=T0, ttl_ms=30_000)
        assert b.console_count(agent_id=5, now_ms=T0) == 2
        assert b.console_close(agent_id=5, console="c1", now_ms=T0 + 100) == 1
        assert b.consoles_lapsed(now_ms=T0 + 20_000, grace_ms=1000) == []  # c2 counts until T0 + 30 s
        b.console_beat(agent_id=5, console="c2", now_ms=T0 + 20_000, ttl_ms=30_000)
        assert b.console_close(agent_id=5, console="c2", now_ms=T0 + 21_000) == 0
        assert b.console_count(agent_id=5, now_ms=T0 + 21_000) == 0
        assert b.consoles_lapsed(now_ms=T0 + 21_999, grace_ms=1000) == []
        assert b.consoles_lapsed(now_ms=T0 + 22_000, grace_ms=1000) == [5]
        assert b.consoles_lapsed(now_ms=T0 + 99_000, grace_ms=1000) == []  # handed out once

    def test_console_that_stops_beating_lapses_after_its_deadline_and_the_grace(self, consoles):
        b = consoles
        b.console_beat(agent_id=6, console="c1", now_ms=T0, ttl_ms=3000)
        assert b.console_count(agent_id=6, now_ms=T0 + 2999) == 1
        assert b.console_count(agent_id=6, now_ms=T0 + 3000) == 0
        assert b.consoles_lapsed(now_ms=T0 + 3999, grace_ms=1000) == []
        assert b.consoles_lapsed(now_ms=T0 + 4000, grace_ms=1000) == [6]

    def test_console_back_within_the_grace_keeps_the_agent(self, consoles):
        b = consoles
        b.console_beat(agent_id=7, console="c1", now_ms=T0, ttl_ms=30_000)
        assert b.console_close(agent_id=7, console="c1", now_ms=T0 + 10) == 0
        b.console_beat(agent_id=7, console="c3", now_ms=T0 + 500, ttl_ms=30_000)
        assert b.consoles_lapsed(now_ms=T0 + 5000, grace_ms=1000) == []
        assert b.console_count(agent_id=7, now_ms=T0 + 5000) == 1
        # Presence is not routing state: a flush (a rebuild) keeps it.
        b.flush()
        assert b.console_count(agent_id=7, now_ms=T0 + 5000) == 1

    def test_console_expected_but_missing_lapses_after_the_grace(self, consoles):
        b = consoles
        b.console_beat(agent_id=5, console="c1", now_ms=T0, ttl_ms=30_000)
        assert b.console_expect(agent_id=5, now_ms=T0) is False  # it has a console
        assert b.console_expect(agent_id=6, now_ms=T0) is True
        assert b.console_expect(agent_id=6, now_ms=T0 + 500) is False  # its grace already runs
        assert b.consoles_lapsed(now_ms=T0 + 999, grace_ms=1000) == []
        assert b.consoles_lapsed(now_ms=T0 + 1000, grace_ms=1000) == [6]
        b.console_expect(agent_id=7, now_ms=T0)
        b.console_beat(agent_id=7, console="c1", now_ms=T0 + 10, ttl_ms=30_000)  # connected in time
        assert b.consoles_lapsed(now_ms=T0 + 5000, grace_ms=1000) == []

    def test_disconnected_agent_gets_no_offers_and_its_offers_go_to_others(self, b):
        self.queue(b)
        self.agent(b, 5)
        self.enqueue(b, 1)
        self.agent(b, 6)
        events = self.agent(b, 5, status="disconnected")
        assert kinds(events) == ["agent_status", "offer_cancelled", "offered"]
        assert events[0]["status"] == "disconnected"
        assert offers(events) == [(1, 6)]
        assert offers(self.enqueue(b, 2)) == [(2, 6)]
        events = self.agent(b, 5, status="available")
        assert kinds(events) == ["agent_status"]
        assert offers(self.enqueue(b, 3)) == [(3, 5)]


class TestMemoryBackend(BaseRoutingBackendTests):
    def make_backend(self):
        return MemoryBackend(channel_kinds=channel_kinds())


class TestRedisBackend(BaseRoutingBackendTests):
    def make_backend(self):
        return RedisBackend({"url": settings.REDIS_URL, "prefix": "rt-contract"}, channel_kinds=channel_kinds())

    def test_functions_lost_by_redis_are_loaded_again(self):
        # A library of its own (another kind list), so that deleting it disturbs no other test.
        b = RedisBackend(
            {"url": settings.REDIS_URL, "prefix": "rt-contract-lost"}, channel_kinds=(*channel_kinds(), "lost")
        )
        b.flush()
        b.mark_built()
        self.queue(b)
        self.agent(b, 5)
        b.client.function_delete(b.library)
        assert offers(self.enqueue(b, 1)) == [(1, 5)]
        assert b.client.function_list(library=b.library)
        b.client.function_delete(b.library)
        b.flush()
