"""The Redis backend decides exactly as the memory backend (the reference): random sequences of every
operation run on both, and each call must give the same events (offer ids aside, which each backend
makes its own), or the same refusal, and leave the same waiting order, agents, items and due timers."""

from __future__ import annotations

import pytest
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from routing.backends import channel_kinds
from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.exceptions import RoutingError

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis")

T0 = 1_800_000_000_000
# queue id -> (policy, offer ms, sticky ms, max wait ms, overflow queue)
QUEUES = {
    1: ("least_busy", 5_000, 0, 0, 0),
    2: ("round_robin", 4_000, 3_000, 0, 0),
    3: ("longest_idle", 6_000, 0, 8_000, 1),
    4: ("manual", 5_000, 0, 0, 0),
}
POLICIES = ("least_busy", "round_robin", "longest_idle", "manual")
# agent id -> settings it can be given: (queues, skills, default capacity, capacity per kind, away after)
AGENTS = {
    1: [((1, 2), ("a",), 2, {}, 0), ((1,), ("a", "b"), 1, {"sms": 3}, 2)],
    2: [((1,), ("a", "b"), 1, {"sms": 2}, 2), ((2, 3), (), 2, {}, 0)],
    3: [((2, 3), ("b",), 3, {"web": 1}, 0), ((3, 4), ("b",), 2, {"web": 0}, 1)],
    4: [((1, 2, 3, 4), (), 2, {}, 1), ((4,), ("a",), 1, {}, 0)],
}
KINDS = ("web", "sms")
EVENT_KINDS = {"offered", "accepted", "rejected", "expired", "offer_cancelled"}


class Twins(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.memory = MemoryBackend(channel_kinds=channel_kinds())
        self.redis = self.twin()
        self.redis.flush()
        self.forget_consoles()
        self.redis.mark_built()
        self.now = T0
        self.offer_ids: dict[str, str] = {}  # the Redis backend's offer id -> the memory backend's
        self.open: dict[str, str] = {}  # open offers: memory id -> Redis id
        self.refs: list[int] = []
        for queue_id, (policy, offer_ms, sticky_ms, max_wait_ms, overflow) in QUEUES.items():
            self.both(
                "queue_set",
                queue_id=queue_id,
                policy=policy,
                offer_timeout_ms=offer_ms,
                sticky_window_ms=sticky_ms,
                max_wait_ms=max_wait_ms,
                overflow_queue_id=overflow,
            )
        self.queues_ready()
        for agent_id in AGENTS:
            self.agent_set(agent_id, 0, "available" if agent_id < 4 else "offline")

    def twin(self):
        """The backend that must decide as the memory backend."""
        return RedisBackend({"url": settings.REDIS_URL, "prefix": "rt-twin"}, channel_kinds=channel_kinds())

    def queues_ready(self) -> None:
        """The queues are set up, no agent yet."""

    def teardown(self) -> None:
        self.redis.flush()
        self.forget_consoles()

    def forget_consoles(self) -> None:
        """Console presence outlives a flush (it is not routing state): start each run without it."""
        keys = list(self.redis.client.scan_iter(match="rt-twin-presence:*"))
        if keys:
            self.redis.client.delete(*keys)

    # --- running one call on both -------------------------------------------------------------------
    def both(self, name: str, *, offer_id: str | None = None, **kwargs):
        outcomes = []
        for backend in (self.memory, self.redis):
            args = dict(kwargs)
            if offer_id is not None:
                args["offer_id"] = offer_id if backend is self.memory else self.open.get(offer_id, offer_id)
            try:
                outcomes.append(("ok", getattr(backend, name)(**args)))
            except RoutingError as error:
                outcomes.append(("refused", error.code))
        (m_how, m_out), (r_how, r_out) = outcomes
        assert m_how == r_how, (name, kwargs, outcomes)
        if m_how == "refused":
            assert m_out == r_out, (name, kwargs, outcomes)
            return None
        if isinstance(m_out, list) and (m_out or r_out) and isinstance((m_out or r_out)[0], dict):
            self.same_events(name, kwargs, m_out, r_out)
        return m_out

    def same_events(self, name, kwargs, m_events, r_events) -> None:
        assert [e["kind"] for e in m_events] == [e["kind"] for e in r_events], (name, kwargs, m_events, r_events)
        for m, r in zip(m_events, r_events, strict=True):
            if m["kind"] == "offered":
                self.offer_ids[r["offer"]] = m["offer"]
                self.open[m["offer"]] = r["offer"]
            elif m["kind"] in EVENT_KINDS:
                self.open.pop(m["offer"], None)
            if "offer" in r:
                r = {**r, "offer": self.offer_ids.get(r["offer"], r["offer"])}
            assert m == r, (name, kwargs, m_events, r_events)

    def agent_set(self, agent_id: int, variant: int, status: str) -> None:
        queues, skills, default, caps, away_after = AGENTS[agent_id][variant]
        self.both(
            "agent_set",
            agent_id=agent_id,
            status=status,
            capacity=caps,
            default_capacity=default,
            skills=list(skills),
            queue_ids=list(queues),
            away_after=away_after,
            now_ms=self.now,
        )

    # --- operations ---------------------------------------------------------------------------------
    @rule(
        queue_id=st.sampled_from([1, 2, 3, 4, 99]),
        kind=st.sampled_from(KINDS),
        priority=st.sampled_from([0, 0, 1, 5]),
        skills=st.sampled_from([(), (), ("a",), ("b",), ("a", "b")]),
        preferred=st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
        age=st.integers(0, 4_000),
    )
    def enqueue(self, queue_id, kind, priority, skills, preferred, age):
        ref = len(self.refs) + 1
        self.refs.append(ref)
        self.both(
            "work_enqueue",
            ref=ref,
            queue_id=queue_id,
            kind=kind,
            priority=priority,
            skills=list(skills),
            preferred_agent_id=preferred,
            enqueued_ms=self.now - age,
            now_ms=self.now,
        )

    @rule(
        agent_id=st.sampled_from(sorted(AGENTS)),
        variant=st.sampled_from([0, 0, 0, 1]),
        status=st.sampled_from(["available", "available", "away", "offline", "disconnected"]),
    )
    def set_agent(self, agent_id, variant, status):
        self.agent_set(agent_id, variant, status)

    @rule(pick=st.integers(0, 10), right_agent=st.booleans(), accept=st.booleans())
    def answer(self, pick, right_agent, accept):
        if not self.open:
            return
        offer_id = sorted(self.open)[pick % len(self.open)]
        agent_id = self.memory.offers[offer_id]["agent"] if offer_id in self.memory.offers else 1
        if not right_agent:
            agent_id = agent_id % len(AGENTS) + 1
        self.both("offer_accept" if accept else "offer_reject", offer_id=offer_id, agent_id=agent_id, now_ms=self.now)

    @rule(pick=st.integers(0, 200), reason=st.sampled_from(["completed", "abandoned"]))
    def release(self, pick, reason):
        if self.refs:
            self.both("work_release", ref=self.refs[pick % len(self.refs)], reason=reason, now_ms=self.now)

    @rule(pick=st.integers(0, 200), queue_id=st.sampled_from([0, 1, 2, 3, 4, 99]), agent_id=st.integers(0, 5))
    def transfer(self, pick, queue_id, agent_id):
        if self.refs:
            ref = self.refs[pick % len(self.refs)]
            self.both("work_transfer", ref=ref, queue_id=queue_id, agent_id=agent_id, now_ms=self.now)

    @rule(pick=st.integers(0, 200), agent_id=st.integers(1, 5))
    def work_pick(self, pick, agent_id):
        if self.refs:
            self.both("work_pick", ref=self.refs[pick % len(self.refs)], agent_id=agent_id, now_ms=self.now)

    @rule(queue_id=st.sampled_from(sorted(QUEUES)), policy=st.sampled_from(POLICIES))
    def set_policy(self, queue_id, policy):
        _, offer_ms, sticky_ms, max_wait_ms, overflow = QUEUES[queue_id]
        self.both(
            "queue_set",
            queue_id=queue_id,
            policy=policy,
            offer_timeout_ms=offer_ms,
            sticky_window_ms=sticky_ms,
            max_wait_ms=max_wait_ms,
            overflow_queue_id=overflow,
        )

    @rule(agent_id=st.sampled_from(sorted(AGENTS)), console=st.sampled_from(["c1", "c2"]))
    def console_beat(self, agent_id, console):
        self.both("console_beat", agent_id=agent_id, console=console, now_ms=self.now, ttl_ms=4_000)

    @rule(agent_id=st.sampled_from(sorted(AGENTS)), console=st.sampled_from(["c1", "c2"]))
    def console_close(self, agent_id, console):
        self.both("console_close", agent_id=agent_id, console=console, now_ms=self.now)

    @rule(agent_id=st.sampled_from(sorted(AGENTS)))
    def console_expect(self, agent_id):
        self.both("console_expect", agent_id=agent_id, now_ms=self.now)

    @rule()
    def consoles_lapsed(self):
        m = self.memory.consoles_lapsed(now_ms=self.now, grace_ms=2_000)
        r = self.redis.consoles_lapsed(now_ms=self.now, grace_ms=2_000)
        assert sorted(m) == sorted(r)

    @rule(ms=st.sampled_from([500, 1_000, 3_000, 5_000, 9_000]))
    def time_passes(self, ms):
        """Time moves on and the ticker fires whatever is due, in the memory backend's order (offers and
        items due at the same moment may be listed in another order by each backend)."""
        self.now += ms
        m_offers, m_refs = self.memory.due(now_ms=self.now)
        r_offers, r_refs = self.redis.due(now_ms=self.now)
        assert sorted(m_offers) == sorted(self.offer_ids.get(o, o) for o in r_offers)
        assert sorted(m_refs) == sorted(r_refs)
        for offer_id in m_offers:
            self.both("offer_expire", offer_id=offer_id, now_ms=self.now)
        for ref in m_refs:
            self.both("work_reevaluate", ref=ref, now_ms=self.now)

    # --- the same state -----------------------------------------------------------------------------
    @invariant()
    def same_state(self):
        for queue_id in (*QUEUES, 99):
            assert self.memory.queue_waiting(queue_id=queue_id) == self.redis.queue_waiting(queue_id=queue_id)
            assert self.memory.queue_positions(queue_id=queue_id) == self.redis.queue_positions(queue_id=queue_id)
        for agent_id in AGENTS:
            assert self.memory.agent_get(agent_id=agent_id) == self.redis.agent_get(agent_id=agent_id)
            m_count = self.memory.console_count(agent_id=agent_id, now_ms=self.now)
            assert m_count == self.redis.console_count(agent_id=agent_id, now_ms=self.now), agent_id
        for ref in self.refs:
            m, r = self.memory.work_get(ref=ref), self.redis.work_get(ref=ref)
            if r is not None and r["offer"]:
                r = {**r, "offer": self.offer_ids.get(r["offer"], r["offer"])}
            assert m == r, ref
            assert self.memory.work_position(ref=ref) == self.redis.work_position(ref=ref), ref


class TwinsOnOlderKeys(Twins):
    """Queues set up before Redis kept their `kinds` hash: every kind stays in the ready index and is
    scanned for waiting work (docs/routing.md), with the same decisions."""

    def queues_ready(self) -> None:
        self.redis.client.delete(*(f"rt-twin:{{q:{queue_id}}}:kinds" for queue_id in QUEUES))


def run_twins(machine, examples: int) -> None:
    run_state_machine_as_test(
        machine,
        settings=hsettings(
            max_examples=examples,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_redis_decides_as_memory():
    run_twins(Twins, 120)


def test_redis_decides_as_memory_on_queues_set_up_before_the_kinds_hash():
    run_twins(TwinsOnOlderKeys, 40)
