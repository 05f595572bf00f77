"""Routing decisions against the Redis backend: 10,000 waiting conversations, 1,000 agents, 10 skills.

Every agent is full (3 conversations each) and 10,000 more wait. One round is three decisions, each one
Lua script: an agent completes a conversation (its capacity frees and the oldest waiting conversation it
can take is offered to it), the agent accepts the offer, and a new conversation is queued (behind the
others: no agent is free). The queue stays at 10,000. Latency is measured per decision from this client,
one process on one core.

Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, a database this benchmark empties of
its own keys), BENCH_ROUTING_DECISIONS (default 20,000).
"""

from __future__ import annotations

import os
import random
import statistics
import time

WAITING = 10_000
AGENTS = 1_000
SKILLS = 10
CAPACITY = 3
QUEUES = 5
KINDS = ("web", "telegram", "whatsapp", "wechat", "sms", "api", "email")


def run() -> list[dict]:
    from routing.backends.redis import RedisBackend

    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    decisions_wanted = int(os.environ.get("BENCH_ROUTING_DECISIONS", "20000"))
    backend = RedisBackend({"url": url, "pool_size": 4, "prefix": "rt-bench"}, channel_kinds=KINDS)
    backend.flush()
    backend.mark_built()
    rng = random.Random(7)
    skills = [f"skill{n}" for n in range(SKILLS)]
    now = int(time.time() * 1000)
    for queue_id in range(1, QUEUES + 1):
        backend.queue_set(
            queue_id=queue_id,
            policy="least_busy",
            offer_timeout_ms=30_000,
            sticky_window_ms=0,
            max_wait_ms=0,
            overflow_queue_id=0,
        )
    agent_skills = {a: rng.sample(skills, 3) for a in range(1, AGENTS + 1)}
    agent_queues = {a: sorted(rng.sample(range(1, QUEUES + 1), 2)) for a in agent_skills}
    next_ref = 1

    def enqueue(ref: int, at: int) -> list:
        return backend.work_enqueue(
            ref=ref,
            queue_id=rng.randint(1, QUEUES),
            kind="web",
            priority=0 if rng.random() < 0.9 else 1,
            skills=[rng.choice(skills)],
            preferred_agent_id=0,
            enqueued_ms=at,
            now_ms=at,
        )

    for _ in range(WAITING + AGENTS * CAPACITY):
        enqueue(next_ref, now + next_ref)
        next_ref += 1
    assigned: list[tuple[int, int]] = []
    for agent_id in agent_skills:
        events = backend.agent_set(
            agent_id=agent_id,
            status="available",
            capacity={},
            default_capacity=CAPACITY,
            skills=agent_skills[agent_id],
            queue_ids=agent_queues[agent_id],
            away_after=0,
            now_ms=now,
        )
        for event in events:
            if event["kind"] == "offered":
                backend.offer_accept(offer_id=event["offer"], agent_id=agent_id, now_ms=now)
                assigned.append((event["ref"], agent_id))
    waiting = sum(len(backend.queue_waiting(queue_id=q)) for q in range(1, QUEUES + 1))

    latencies: list[float] = []
    started = time.perf_counter()
    while len(latencies) < decisions_wanted:
        index = rng.randrange(len(assigned))
        ref, agent_id = assigned[index]
        at = now + next_ref
        t0 = time.perf_counter()
        events = backend.work_release(ref=ref, reason="completed", now_ms=at)
        latencies.append(time.perf_counter() - t0)
        offer = next((e for e in events if e["kind"] == "offered"), None)
        if offer is None:
            assigned.pop(index)
        else:
            t0 = time.perf_counter()
            backend.offer_accept(offer_id=offer["offer"], agent_id=offer["agent"], now_ms=at)
            latencies.append(time.perf_counter() - t0)
            assigned[index] = (offer["ref"], offer["agent"])
        t0 = time.perf_counter()
        enqueue(next_ref, at)
        latencies.append(time.perf_counter() - t0)
        next_ref += 1
    elapsed = time.perf_counter() - started
    latencies.sort()
    backend.flush()
    return [
        {
            "name": "routing",
            "backend": "redis",
            "waiting": waiting,
            "agents": AGENTS,
            "skills": SKILLS,
            "decisions": len(latencies),
            "decisions_per_s": round(len(latencies) / elapsed),
            "p50_ms": round(statistics.median(latencies) * 1000, 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
        }
    ]
