"""The relay benchmark: customers and agents in live conversations through the public protocol.

It starts the server under test (daphne processes of the chosen profile), prepares a web inbox, a queue
and M agents, connects N customers and M agents over real WebSockets, lets routing assign every
conversation, then sends customer messages at an open-loop rate and measures, on one clock, the time
from the customer's send to the agent's receipt. At the end every message is checked against the
database: nothing acknowledged may be missing, nothing may be stored or delivered twice, and every
conversation's seq must run 1..N with no gap.

    python -m bench.run --only relay                       # one run at --rate
    python -m bench.run --only relay --ramp                # raise the rate until p99 > 100 ms or a loss
    python -m bench.run --only relay --procs 2             # two daphne processes
    python -m bench.run --only relay --profile embedded    # SQLite + in-memory layer, one process
    python -m bench.run --only relay --layer channels_redis   # production on channels-redis's layer only
    python -m bench.run --only relay --drop-fraction 0.1 --drop-every 1   # 10% of sockets drop each second

The production profile runs once per channel layer (`--layer both`, the default: ours, then
channels-redis's pub/sub layer, docs/realtime.md), so one run prints the relay on both.

Clients behave as the widget and the console do: a socket that drops reconnects, resumes from the last
seq it shows and sends again, with the same client_id, what was not acknowledged; a gap in seq asks for
a resume (they are the project's protocol client, switchboard_client, timed here). At the end every
client settles (all acknowledged, one last resume) and bench.database's relay-verify compares every
screen with MySQL (`screens_differ`), counts conversations on two agents' consoles (`held_twice`) and
ones where the consoles, the switch and routing name different agents (`holder_mismatch`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field

from bench.database import AGENT_PASSWORD
from bench.server import ROOT, django_call, prepare_database, server_env, start_server
from switchboard_client import Agent, Customer, Peer, agent_login, close_all, settle, widget_session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("relay")
    group.add_argument(
        "--profile",
        choices=["both", "production", "embedded"],
        default="both",
        help="production (MySQL, Redis, --procs daphne processes), embedded (SQLite, in-memory, one process) or both",
    )
    group.add_argument(
        "--layer",
        choices=["both", "switchboard", "channels_redis"],
        default="both",
        help="the production profile's channel layer (CHANNEL_LAYER_BACKEND): ours, channels-redis's, or both",
    )
    group.add_argument("--procs", type=int, default=1, help="daphne processes (production profile only)")
    group.add_argument("--customers", type=int, default=500)
    group.add_argument("--agents", type=int, default=50)
    group.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offered messages per second, all customers (default: the line's target, TARGET_RATES)",
    )
    group.add_argument("--duration", type=float, default=10.0, help="seconds of sending per step")
    group.add_argument("--ramp", action="store_true", help="raise the rate until p99 > 100 ms or a loss")
    group.add_argument("--ramp-start", type=float, default=250.0)
    group.add_argument("--ramp-step", type=float, default=250.0)
    group.add_argument("--ramp-max", type=float, default=6000.0)
    group.add_argument(
        "--drop-fraction",
        type=float,
        default=0.0,
        help="abruptly close this fraction of the sockets every --drop-every seconds (they reconnect and resume)",
    )
    group.add_argument("--drop-every", type=float, default=1.0, help="seconds between socket drops")
    group.add_argument(
        "--agent-reply-fraction",
        type=float,
        default=0.0,
        help="this fraction of the offered messages are agents' replies (agent socket to the customer)",
    )
    group.add_argument("--pin", action="store_true", default=True, help="pin daphne and the generator to cores")
    group.add_argument("--no-pin", dest="pin", action="store_false")


# --- the clients: the project's protocol client, timed ------------------------------------------


@dataclass
class Tally:
    """What the step measures, on one clock (time.perf_counter)."""

    sent_at: dict[str, float] = field(default_factory=dict)  # client_id -> when the customer sent it
    received: dict[str, int] = field(default_factory=dict)  # client_id -> times an agent got it
    latencies: list[float] = field(default_factory=list)  # send to the agent's receipt
    ack_latencies: list[float] = field(default_factory=list)  # send to the customer's own ack
    received_at: list[tuple[float, float]] = field(default_factory=list)  # (sent, latency) per first receipt
    conversations: set[int] = field(default_factory=set)
    drops: int = 0
    agent_replies: int = 0  # of sent_at, the agents' replies


class TimedAgent(Agent):
    """A console that counts and times every customer message the step sent."""

    def __init__(self, base: str, cookie: str, tally: Tally) -> None:
        super().__init__(base, cookie)
        self.tally = tally

    def on_message(self, message: dict, now: float) -> None:
        client_id = message.get("client_id")
        if message["sender"]["kind"] == "customer" and client_id in self.tally.sent_at:
            count = self.tally.received.get(client_id, 0) + 1
            self.tally.received[client_id] = count
            if count == 1:
                self.tally.latencies.append(now - self.tally.sent_at[client_id])
                self.tally.received_at.append((self.tally.sent_at[client_id], now - self.tally.sent_at[client_id]))


class TimedCustomer(Customer):
    """A widget that times its own acks and numbers what it sends ("bench N"), and counts and times the
    agents' replies the step sent."""

    def __init__(self, base: str, token: str, tally: Tally) -> None:
        super().__init__(base, token)
        self.tally = tally

    def on_ack(self, client_id: str, message: dict, now: float) -> None:
        sent_at = self.tally.sent_at.get(client_id)
        if sent_at is not None:
            self.tally.ack_latencies.append(now - sent_at)
        self.tally.conversations.add(message["conversation_id"])

    def on_message(self, message: dict, now: float) -> None:
        client_id = message.get("client_id")
        if message["sender"]["kind"] == "agent" and client_id in self.tally.sent_at:
            count = self.tally.received.get(client_id, 0) + 1
            self.tally.received[client_id] = count
            if count == 1:
                self.tally.latencies.append(now - self.tally.sent_at[client_id])
                self.tally.received_at.append((self.tally.sent_at[client_id], now - self.tally.sent_at[client_id]))

    async def send_numbered(self, n: int) -> None:
        client_id = self.queue_text(f"bench {n}")
        self.tally.sent_at[client_id] = time.perf_counter()
        await self.transmit(client_id)


async def agent_reply(agents: list[TimedAgent], n: int, tally: Tally) -> bool:
    """An agent answers in one of the conversations it holds ("reply N"); False when none holds one."""
    holding = [a for a in agents if a.conversations]
    if not holding:
        return False
    agent = random.choice(holding)
    client_id = agent.queue_text(random.choice(sorted(agent.conversations)), f"reply {n}")
    tally.sent_at[client_id] = time.perf_counter()
    tally.agent_replies += 1
    await agent.transmit(client_id)
    return True


async def dropper(clients: list[Peer], fraction: float, every: float, tally: Tally, stop: asyncio.Event) -> None:
    """Every `every` seconds, close a random `fraction` of the sockets abruptly."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            break
        for client in random.sample(clients, max(1, round(fraction * len(clients)))):
            if client.drop():
                tally.drops += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the server's processes (Linux /proc; 0 elsewhere). CPU per message
    is the figure that compares two builds when the machine's speed drifts between runs: latency at a
    fixed rate moves with the machine's other load, the work per message much less."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def database_pids() -> list[int]:
    """The local MariaDB/MySQL server's process (its CPU over a step is what the step cost it, with
    nothing else using it); none when it runs elsewhere."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() not in {"mariadbd", "mysqld"}:
                        continue
                with open(f"/proc/{entry}/cmdline") as f:
                    args = f.read().split("\0")
                ports = [a.split("=", 1)[1] for a in args if a.startswith("--port=")]
                if not ports or ports == ["3306"]:  # the machine's server, not a test's own on another port
                    found.append(int(entry))
            except OSError:
                continue
    return found


def redis_cost(url: str | None) -> tuple[float, float]:
    """Redis's own CPU seconds (INFO cpu) and its commands' microseconds (INFO commandstats), server-wide:
    with nothing else using the Redis server, their change over a step is what the step cost Redis."""
    if not url:
        return 0.0, 0.0
    import redis

    client = redis.Redis.from_url(url)
    try:
        cpu = client.info("cpu")
        stats = client.info("commandstats")
    finally:
        client.close()
    return (
        float(cpu.get("used_cpu_sys", 0)) + float(cpu.get("used_cpu_user", 0)),
        sum(float(v.get("usec", 0)) for v in stats.values() if isinstance(v, dict)),
    )


async def run_step(
    customers: list[TimedCustomer],
    rate: float,
    duration: float,
    tally: Tally,
    pids: list[int] = (),
    agents: list[TimedAgent] = (),
    agent_fraction: float = 0.0,
    redis_url: str | None = None,
) -> dict:
    """Open loop: sends are scheduled on the clock, whatever the server's answers. With
    `agent_fraction`, that share of the sends are agents' replies, timed to the customer's receipt."""
    for key in ("sent_at", "received"):
        getattr(tally, key).clear()
    tally.latencies.clear()
    tally.ack_latencies.clear()
    tally.received_at.clear()
    tally.agent_replies = 0
    errors_before = sum(len(c.errors) for c in [*customers, *agents])
    interval = 1.0 / rate
    total = int(rate * duration)
    cpu_before = cpu_seconds(list(pids))
    redis_before = redis_cost(redis_url)
    database = database_pids() if redis_url else []
    database_before = cpu_seconds(database)
    print(f"relay: sending {total} messages at {rate:g}/s", file=sys.stderr, flush=True)
    # The generator's own garbage collections (hundreds of sockets' state, the tally) would stall its
    # clock and show as the server's latency: none during the step.
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    for n in range(total):
        target = start + n * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if agent_fraction and random.random() < agent_fraction and await agent_reply(list(agents), n, tally):
            continue
        await random.choice(customers).send_numbered(n)
    elapsed = time.perf_counter() - start
    # Drain: wait for the last messages, up to 10 s.
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and len(tally.received) < len(tally.sent_at):
        await asyncio.sleep(0.05)
    gc.enable()
    cpu = cpu_seconds(list(pids)) - cpu_before
    redis_after = redis_cost(redis_url)
    database_cpu = cpu_seconds(database) - database_before
    sent = len(tally.sent_at)
    received = sum(1 for c in tally.sent_at if c in tally.received)
    return {
        "offered_per_s": round(rate, 1),
        "achieved_send_per_s": round(sent / elapsed, 1),
        "sent": sent,
        "received": received,
        "lost": sent - received,
        "duplicated": sum(n - 1 for n in tally.received.values() if n > 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 2),
        "max_ms": round(max(tally.latencies, default=0) * 1000, 2),
        # Send to the sender's own ack: the stored-and-sequenced part of the path, without fan-out.
        # p99 of the messages sent in each second of the step: a stall shows as one bad second, an
        # overload as a climb.
        "p99_ms_by_second": [
            round(percentile([lat for sent_at, lat in tally.received_at if int(sent_at - start) == n], 0.99) * 1000, 1)
            for n in range(int(duration))
        ],
        "ack_p50_ms": round(percentile(tally.ack_latencies, 0.50) * 1000, 2),
        "ack_p99_ms": round(percentile(tally.ack_latencies, 0.99) * 1000, 2),
        "errors": sum(len(c.errors) for c in [*customers, *agents]) - errors_before,
        "agent_replies": tally.agent_replies,
        # The server processes' CPU per message relayed (stored, sequenced, fanned out, acknowledged).
        "server_cpu_ms_per_msg": round(cpu * 1000 / received, 3) if received and pids else None,
        # Redis's CPU and its commands' time per message (server-wide: other users of that Redis count).
        **(
            {
                "redis_cpu_ms_per_msg": round((redis_after[0] - redis_before[0]) * 1000 / received, 4),
                "redis_command_us_per_msg": round((redis_after[1] - redis_before[1]) / received, 1),
                "database_cpu_ms_per_msg": round(database_cpu * 1000 / received, 3) if database else None,
            }
            if redis_url and received
            else {}
        ),
    }


async def drive(args, bases: list[str], inbox: str, pids: list[int] = (), redis_url: str | None = None) -> list[dict]:
    """Connect the agents and customers (spread over `bases`), wait until routing assigned every
    conversation, run the steps (with sockets dropping when asked), then let every client settle: all
    its messages acknowledged and its screen caught up with MySQL. The last item is what
    bench.database.relay_verify needs."""
    import httpx

    tally = Tally()
    agents = []
    for i in range(args.agents):
        base = bases[i % len(bases)]
        agent = TimedAgent(base, await agent_login(base, f"bench-agent-{i}", AGENT_PASSWORD), tally)
        await agent.open()
        agents.append(agent)
    customers = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(args.customers):
            base = bases[i % len(bases)]
            customer = TimedCustomer(base, await widget_session(http, base, inbox, "Bench customer"), tally)
            customer.queue_text("hello")  # the conversation's first message, sent as the socket opens
            await customer.open()
            customers.append(customer)
    clients: list[Peer] = [*agents, *customers]

    def unassigned() -> int:
        # The agents' consoles say who holds what (a customer's socket may miss the status frame sent
        # while it moved into its new conversation).
        held = set().union(*(a.conversations for a in agents))
        return sum(1 for c in customers if c.conversation_id is None or c.conversation_id not in held)

    deadline = time.perf_counter() + 120
    while unassigned():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{unassigned()} of {len(customers)} conversations were never assigned")
        await asyncio.sleep(0.1)
    results = []
    stop = asyncio.Event()
    churn = None
    if getattr(args, "drop_fraction", 0) > 0:
        churn = asyncio.create_task(dropper(clients, args.drop_fraction, args.drop_every, tally, stop))
    try:
        rates = [args.rate]
        if args.ramp:
            rates = []
            r = args.ramp_start
            while r <= args.ramp_max:
                rates.append(r)
                r += args.ramp_step
        for rate in rates:
            step = await run_step(
                customers,
                rate,
                args.duration,
                tally,
                pids,
                agents,
                getattr(args, "agent_reply_fraction", 0.0),
                redis_url,
            )
            step.update(drops=tally.drops, reconnects=sum(c.reconnects for c in clients))
            results.append(step)
            if args.ramp:
                print(json.dumps({"name": "relay.step", **step}), file=sys.stderr, flush=True)
                if step["p99_ms"] > 100 or step["lost"] or step["duplicated"]:
                    break
        stop.set()
        if churn:
            await churn
        # Settle: every message acknowledged, then one last resume per conversation held.
        await settle(clients, timeout=30)
    finally:
        stop.set()
        await close_all(clients)
    screens = [
        {
            "client": f"{'agent' if isinstance(client, Agent) else 'customer'}-{n}",
            "conversation": conversation_id,
            "messages": client.screen.shown(conversation_id),
            "hidden": client.screen.hidden_seqs(conversation_id),
        }
        for n, client in enumerate(clients)
        for conversation_id in client.held()
    ]
    held: dict[int, list[int]] = {}
    for agent in agents:
        for conversation_id in agent.conversations:
            held.setdefault(conversation_id, []).append(agent.user_id)
    results.append(
        {
            "acked": sorted(set().union(*(c.acked for c in clients))),
            "conversations": sorted(tally.conversations),
            "unacked": sum(len(c.unacked) for c in clients),
            "client_errors": sorted({e for c in clients for e in c.errors}),
            "screens": screens,
            "held": {str(c): agents_ for c, agents_ in held.items()},
        }
    )
    return results


# What `make bench` offers each line when --rate is not given: the targets the relay is held to
# (docs/performance.md): 2,000 msg/s a process on the production profile with our layer, 400 on the
# embedded one; channels-redis's layer at the rate its line has always been compared at.
TARGET_RATES = {
    ("production", "switchboard"): 2000.0,
    ("production", "channels_redis"): 1000.0,
    ("embedded", "memory"): 400.0,
}


def run(args) -> list[dict]:
    if args.profile == "both":
        results = run(argparse.Namespace(**{**vars(args), "profile": "production"}))
        return results + run(argparse.Namespace(**{**vars(args), "profile": "embedded", "procs": 1}))
    if args.profile == "production" and args.layer == "both":
        results = run(argparse.Namespace(**{**vars(args), "layer": "switchboard"}))
        return results + run(argparse.Namespace(**{**vars(args), "layer": "channels_redis"}))
    if args.profile == "embedded" and args.procs != 1:
        raise SystemExit("The embedded profile is one process (in-memory layer): use --procs 1.")
    layer = args.layer if args.profile == "production" else "memory"
    if args.rate is None:
        args = argparse.Namespace(**{**vars(args), "rate": TARGET_RATES[(args.profile, layer)]})
    var_dir = ROOT / "var" / "bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(args.profile, var_dir, layer)
    prepare_database(args.profile, env, var_dir)
    setup = django_call("relay-setup", env, str(args.agents), str(args.customers))
    server = start_server(args.procs, env, args.pin, var_dir)
    try:
        if args.pin and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {(os.cpu_count() or 1) - 1})
        bases = [f"http://127.0.0.1:{p}" for p in server.ports]
        pids = [proc.pid for proc in server.procs]
        steps = asyncio.run(drive(args, bases, setup["inbox"], pids, env.get("REDIS_URL")))
    finally:
        server.stop()
    ids = steps.pop()
    check = django_call("relay-verify", env, stdin=json.dumps(ids))
    load = os.getloadavg()[0]
    common = {
        "profile": args.profile,
        "layer": layer,
        "procs": args.procs,
        "clients": args.customers + args.agents,
        "customers": args.customers,
        "agents": args.agents,
        "cores": os.cpu_count(),
        "loadavg_1m": round(load, 2),
        **({"drop_fraction": args.drop_fraction, "drop_every_s": args.drop_every} if args.drop_fraction else {}),
        "client_errors": ids["client_errors"],
        **check,
    }
    if args.ramp:
        good = [s for s in steps if s["p99_ms"] <= 100 and not s["lost"] and not s["duplicated"]]
        best = good[-1] if good else None
        return [
            {
                "name": "relay.ramp",
                **common,
                "max_rate_per_s": best["offered_per_s"] if best else 0,
                "at_max": best,
                "first_failing": steps[-1] if steps and steps[-1] is not best else None,
            }
        ]
    return [{"name": "relay", **common, **steps[0]}]
