"""Routing decisions against the Redis backend: 10,000 waiting conversations, 1,000 agents, 10 skills.

Every agent is full (3 conversations each) and 10,000 more wait. One round is three decisions, each one
call of a routing function (FCALL): an agent completes a conversation (its capacity frees and the
oldest waiting conversation it can take is offered to it), the agent accepts the offer, and a new
conversation is queued (behind the others: no agent is free). The queue stays at 10,000. The rounds
run twice, each run printing a line:

`routing`: one caller making one decision at a time (what one request or task waits for).
`routing.concurrent`: `callers` processes at once, each with its own connection and its own
conversations, running its own rounds (as the daphne and Celery processes of a deployment route at
once; processes rather than threads, whose shared interpreter lock would measure Python, not routing).
`routing.memory`: the same rounds, one caller, on the in-memory backend of the embedded default.

Fields of each line:

* `decisions`, `decisions_per_s`: decisions made in the run and their rate as the callers saw it (wall
  clock from the first call to the last answer).
* `p50_ms`, `p99_ms`: one decision's latency at its caller: the client library, the round trip to Redis
  and the function (in the concurrent run, also the wait behind the other callers' calls).
* `server_us_per_decision`: Redis's own time per decision (`usec / calls` of FCALL in `INFO
  commandstats`, taken before and after the run); `server_decisions_per_s` is 1e6 divided by it, the
  decisions one Redis core can make when the callers are not the limit. INFO counts every client of the
  server, so these two are only right on a Redis nobody else is using at the time.

Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, a database this benchmark empties of
its own keys), BENCH_ROUTING_DECISIONS (decisions per run, default 20,000), BENCH_ROUTING_CALLERS
(processes of the concurrent run, default 8).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
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
SKILL_NAMES = [f"skill{n}" for n in range(SKILLS)]


def _backend(url: str, pool_size: int = 2):
    from routing.backends.redis import RedisBackend

    return RedisBackend({"url": url, "pool_size": pool_size, "prefix": "rt-bench"}, channel_kinds=KINDS)


def _enqueue(backend, ref: int, at: int, rng: random.Random) -> list:
    return backend.work_enqueue(
        ref=ref,
        queue_id=rng.randint(1, QUEUES),
        kind="web",
        priority=0 if rng.random() < 0.9 else 1,
        skills=[rng.choice(SKILL_NAMES)],
        preferred_agent_id=0,
        enqueued_ms=at,
        now_ms=at,
    )


def _rounds(backend, held: list[tuple[int, int]], wanted: int, rng: random.Random, refs, now: int) -> list[float]:
    """Complete, accept, enqueue on the `held` conversations only, until `wanted` decisions are made;
    returns each decision's latency in seconds."""
    latencies: list[float] = []
    while len(latencies) < wanted and held:
        index = rng.randrange(len(held))
        ref = held[index][0]
        new_ref = next(refs)
        at = now + new_ref
        t0 = time.perf_counter()
        events = backend.work_release(ref=ref, reason="completed", now_ms=at)
        latencies.append(time.perf_counter() - t0)
        offer = next((e for e in events if e["kind"] == "offered"), None)
        if offer is None:
            held.pop(index)
        else:
            t0 = time.perf_counter()
            backend.offer_accept(offer_id=offer["offer"], agent_id=offer["agent"], now_ms=at)
            latencies.append(time.perf_counter() - t0)
            held[index] = (offer["ref"], offer["agent"])
        t0 = time.perf_counter()
        _enqueue(backend, new_ref, at, rng)
        latencies.append(time.perf_counter() - t0)
    return latencies


def _caller(url, held, wanted, seed, first_ref, now, start, out) -> None:
    """One process of the concurrent run: its own connection, conversations and refs."""
    backend = _backend(url)
    backend.client.ping()
    start.wait()
    t0 = time.perf_counter()
    latencies = _rounds(backend, held, wanted, random.Random(seed), itertools.count(first_ref), now)
    out.send((t0, time.perf_counter(), latencies))
    out.close()


def _server_time(client) -> tuple[int, int]:
    """(FCALL calls, microseconds) the server has counted so far."""
    stats = client.info("commandstats").get("cmdstat_fcall", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def _summary(name: str, latencies: list[float], elapsed: float, server: tuple[int, int], **extra) -> dict:
    latencies = sorted(latencies)
    calls, usec = server
    per_call = usec / calls if calls else 0.0
    return {
        "name": name,
        "backend": "redis",
        **extra,
        "decisions": len(latencies),
        "decisions_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
        "server_us_per_decision": round(per_call, 1),
        "server_decisions_per_s": round(1e6 / per_call) if per_call else 0,
    }


def _scene(backend, rng: random.Random, now: int):
    """Queues, 10,000 waiting conversations and 1,000 full agents; returns (assigned, refs, scene)."""
    for queue_id in range(1, QUEUES + 1):
        backend.queue_set(
            queue_id=queue_id,
            policy="least_busy",
            offer_timeout_ms=30_000,
            sticky_window_ms=0,
            max_wait_ms=0,
            overflow_queue_id=0,
        )
    agent_skills = {a: rng.sample(SKILL_NAMES, 3) for a in range(1, AGENTS + 1)}
    agent_queues = {a: sorted(rng.sample(range(1, QUEUES + 1), 2)) for a in agent_skills}
    refs = itertools.count(1)
    for _ in range(WAITING + AGENTS * CAPACITY):
        ref = next(refs)
        _enqueue(backend, ref, now + ref, rng)
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
    scene = {
        "waiting": sum(len(backend.queue_waiting(queue_id=q)) for q in range(1, QUEUES + 1)),
        "agents": AGENTS,
        "skills": SKILLS,
    }
    return assigned, refs, scene


def _memory_run(decisions_wanted: int) -> dict:
    """The same rounds on the in-memory backend of the embedded default (one process, no round trip)."""
    from routing.backends.memory import MemoryBackend

    backend = MemoryBackend({}, channel_kinds=KINDS)
    rng = random.Random(7)
    now = int(time.time() * 1000)
    assigned, refs, scene = _scene(backend, rng, now)
    started = time.perf_counter()
    latencies = sorted(_rounds(backend, assigned, decisions_wanted, rng, refs, now))
    elapsed = time.perf_counter() - started
    return {
        "name": "routing.memory",
        "backend": "memory",
        **scene,
        "callers": 1,
        "decisions": len(latencies),
        "decisions_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
    }


def run(args: argparse.Namespace) -> list[dict]:
    """The routing benchmark; its options come from the environment (BENCH_ROUTING_*), not `args`."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    decisions_wanted = int(os.environ.get("BENCH_ROUTING_DECISIONS", "20000"))
    callers = int(os.environ.get("BENCH_ROUTING_CALLERS", "8"))
    backend = _backend(url)
    backend.flush()
    backend.mark_built()
    rng = random.Random(7)
    now = int(time.time() * 1000)
    assigned, refs, scene = _scene(backend, rng, now)
    results = []

    server0 = _server_time(backend.client)
    started = time.perf_counter()
    latencies = _rounds(backend, assigned, decisions_wanted, rng, refs, now)
    elapsed = time.perf_counter() - started
    server1 = _server_time(backend.client)
    server = (server1[0] - server0[0], server1[1] - server0[1])
    results.append(_summary("routing", latencies, elapsed, server, **scene, callers=1))

    # Each process gets every callers-th conversation and refs of its own, far above those used so far.
    context = multiprocessing.get_context("fork")
    start = context.Barrier(callers + 1)
    first_ref = next(refs) + 10_000_000
    pipes, processes = [], []
    for n in range(callers):
        receiver, sender = context.Pipe(duplex=False)
        share = assigned[n::callers]
        args = (url, share, decisions_wanted // callers, 100 + n, first_ref + n * 10_000_000, now, start, sender)
        processes.append(context.Process(target=_caller, args=args, daemon=True))
        pipes.append(receiver)
    for process in processes:
        process.start()
    server0 = _server_time(backend.client)
    start.wait()
    runs = [pipe.recv() for pipe in pipes]
    server1 = _server_time(backend.client)
    for process in processes:
        process.join()
    elapsed = max(end for _, end, _ in runs) - min(begin for begin, _, _ in runs)
    server = (server1[0] - server0[0], server1[1] - server0[1])
    latencies = [latency for _, _, share in runs for latency in share]
    results.append(_summary("routing.concurrent", latencies, elapsed, server, **scene, callers=callers))
    backend.flush()
    results.append(_memory_run(decisions_wanted))
    return results
