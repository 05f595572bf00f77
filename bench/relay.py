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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DB = "switchboard_bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("relay")
    group.add_argument("--profile", choices=["production", "embedded"], default="production")
    group.add_argument("--procs", type=int, default=1, help="daphne processes (production profile only)")
    group.add_argument("--customers", type=int, default=500)
    group.add_argument("--agents", type=int, default=50)
    group.add_argument("--rate", type=float, default=1000.0, help="offered messages per second, all customers")
    group.add_argument("--duration", type=float, default=10.0, help="seconds of sending per step")
    group.add_argument("--ramp", action="store_true", help="raise the rate until p99 > 100 ms or a loss")
    group.add_argument("--ramp-start", type=float, default=250.0)
    group.add_argument("--ramp-step", type=float, default=250.0)
    group.add_argument("--ramp-max", type=float, default=6000.0)
    group.add_argument("--pin", action="store_true", default=True, help="pin daphne and the generator to cores")
    group.add_argument("--no-pin", dest="pin", action="store_false")


# --- the server under test ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(profile: str, var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "ROUTING_BACKEND"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "bench-secret-key-0123456789-0123456789-abcdef",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "0",
            "STATIC_MANIFEST": "0",
            "SECURE_COOKIES": "0",
            "SWITCHBOARD_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            "ROUTING_INPROCESS_TIMERS": "0",
            # Every simulated customer comes from 127.0.0.1.
            "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
        }
    )
    if profile == "production":
        env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"mysql://root@127.0.0.1:3306/{BENCH_DB}")
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
        # Routing decisions and bot hand-offs run in the request; the benchmark has no Celery worker.
        env["CELERY_TASK_ALWAYS_EAGER"] = "1"
    return env


SETUP = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from crm.roles import AGENT, roles_sync, user_set_role
from routing.models import AgentProfile, Queue
from imsubsystem.models import Inbox

agents, customers = int(sys.argv[1]), int(sys.argv[2])
roles_sync()
queue, _ = Queue.objects.get_or_create(name="Bench", defaults={"policy": "least_busy", "offer_timeout_s": 60})
inbox, _ = Inbox.objects.get_or_create(key="bench", defaults={"kind": "web", "name": "Bench", "default_queue": queue})
User = get_user_model()
capacity = customers // agents + 2
for i in range(agents):
    user, created = User.objects.get_or_create(username=f"bench-agent-{i}")
    if created:
        user.set_password("bench-password")
        user.save()
    user_set_role(user=user, role=AGENT)
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    profile.default_capacity = capacity
    profile.capacity = {}
    profile.status = "offline"
    profile.save()
    profile.queues.add(queue)
print(json.dumps({"inbox": inbox.key, "queue": queue.pk}))
"""

VERIFY = """
import json, sys
import django
django.setup()
from django.db.models import Count, Max, Min
from imsubsystem.models import Conversation, Message

ids = json.loads(sys.stdin.read())
conv_ids, acked = ids["conversations"], set(ids["acked"])
messages = Message.objects.filter(conversation_id__in=conv_ids)
rows = list(messages.values_list("conversation_id", "seq", "client_id"))
by_client = {}
for conv, seq, client_id in rows:
    if client_id:
        by_client.setdefault(client_id, 0)
        by_client[client_id] += 1
dup_rows = sum(n - 1 for n in by_client.values() if n > 1)
missing = len([c for c in acked if c not in by_client])
gaps = 0
for conv in Conversation.objects.filter(pk__in=conv_ids):
    seqs = sorted(s for c, s, _ in rows if c == conv.pk)
    if seqs != list(range(1, len(seqs) + 1)) or (seqs and seqs[-1] != conv.last_seq):
        gaps += 1
print(json.dumps({"db_messages": len(rows), "db_duplicated": dup_rows, "db_missing": missing, "seq_gaps": gaps}))
"""


def django_run(code: str, env: dict[str, str], *args: str, stdin: str | None = None) -> dict:
    result = subprocess.run(
        [PYTHON, "-c", code, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def prepare_database(profile: str, env: dict[str, str], var_dir: Path) -> None:
    if profile == "production":
        name = env["DATABASE_URL"].rsplit("/", 1)[1]
        subprocess.run(
            [
                "mariadb",
                "--protocol=tcp",
                "-h127.0.0.1",
                "-uroot",
                "-e",
                f"DROP DATABASE IF EXISTS {name}; "
                f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            ],
            check=True,
        )
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    else:
        shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


@dataclass
class Server:
    ports: list[int]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_server(n: int, env: dict[str, str], pin: bool, log_dir: Path) -> Server:
    server = Server(ports=[free_port() for _ in range(n)])
    cores = os.cpu_count() or 1
    for i, port in enumerate(server.ports):
        cmd = [str(Path(PYTHON).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        if pin and shutil.which("taskset") and cores > 1:
            # Daphne processes share the first cores; the load generator keeps the last one to itself.
            cmd = ["taskset", "-c", str(i % max(1, cores - 1)), *cmd]
        log = open(log_dir / f"daphne-{port}.log", "w")  # noqa: SIM115 - kept open for the process's life
        server.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 60
    for port in server.ports:
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"daphne on {port} did not start; see {log_dir}")
            time.sleep(0.2)
    return server


# --- the clients ---------------------------------------------------------------------------------


@dataclass
class Tally:
    sent_at: dict[str, float] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    received: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    conversations: set[int] = field(default_factory=set)


async def agent_session(base: str, username: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30) as http:
        page = await http.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = await http.post(
            "/accounts/login/",
            data={"username": username, "password": "bench-password", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed for {username}: {response.status_code}")
        return http.cookies["sessionid"]


class Agent:
    def __init__(self, base_ws: str, session: str, tally: Tally, measuring: asyncio.Event) -> None:
        self.base_ws, self.session, self.tally, self.measuring = base_ws, session, tally, measuring
        self.origin = base_ws.replace("ws://", "http://")
        self.ws = None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            f"{self.base_ws}/ws/v1/agent/",
            additional_headers={"Cookie": f"sessionid={self.session}", "Origin": self.origin},
            max_queue=None,
            ping_interval=None,
        )
        await self.ws.send(json.dumps({"type": "presence.set", "status": "available"}))
        self.task = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "offer":
                    await self.ws.send(json.dumps({"type": "offer.accept", "offer_id": frame["offer_id"]}))
                elif kind == "message.new":
                    message = frame["message"]
                    client_id = message.get("client_id")
                    if message["sender"]["kind"] == "customer" and client_id in self.tally.sent_at:
                        count = self.tally.received.get(client_id, 0) + 1
                        self.tally.received[client_id] = count
                        if count == 1:
                            self.tally.latencies.append(now - self.tally.sent_at[client_id])
                elif kind == "error":
                    self.tally.errors.append(frame.get("code", "?"))

    async def close(self) -> None:
        if self.ws:
            await self.ws.close()
        if self.task:
            self.task.cancel()


class Customer:
    def __init__(self, base: str, base_ws: str, inbox: str, tally: Tally) -> None:
        self.base, self.base_ws, self.inbox, self.tally = base, base_ws, inbox, tally
        self.assigned = asyncio.Event()
        self.conversation_id: int | None = None
        self.ws = None
        self.task: asyncio.Task | None = None

    async def start(self, http) -> None:
        from websockets.asyncio.client import connect

        response = await http.post(
            f"{self.base}/api/v1/widget/{self.inbox}/sessions",
            json={"name": "Bench customer"},
            headers={"Origin": self.base},
        )
        response.raise_for_status()
        token = response.json()["session_token"]
        self.ws = await connect(
            f"{self.base_ws}/ws/v1/widget/",
            additional_headers={"Origin": self.base},
            max_queue=None,
            ping_interval=None,
        )
        await self.ws.send(json.dumps({"type": "auth", "token": token, "after_seq": 0}))
        self.task = asyncio.create_task(self.read())
        await self.ws.send(json.dumps({"type": "message.send", "client_id": str(uuid.uuid4()), "text": "hello"}))

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message.ack":
                    sent_at = self.tally.sent_at.get(frame["client_id"])
                    if sent_at is not None:
                        self.tally.ack_latencies.append(time.perf_counter() - sent_at)
                    self.tally.acked.add(frame["client_id"])
                    self.conversation_id = frame["message"]["conversation_id"]
                    self.tally.conversations.add(self.conversation_id)
                elif kind == "conversation.assigned" or (
                    kind == "conversation.status" and frame.get("status") == "assigned"
                ):
                    self.assigned.set()
                elif kind == "error":
                    self.tally.errors.append(frame.get("code", "?"))

    async def send(self, n: int) -> None:
        client_id = str(uuid.uuid4())
        self.tally.sent_at[client_id] = time.perf_counter()
        await self.ws.send(json.dumps({"type": "message.send", "client_id": client_id, "text": f"bench {n}"}))

    async def close(self) -> None:
        if self.ws:
            await self.ws.close()
        if self.task:
            self.task.cancel()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_step(customers: list[Customer], rate: float, duration: float, tally: Tally) -> dict:
    """Open loop: sends are scheduled on the clock, whatever the server's answers."""
    for key in ("sent_at", "received"):
        getattr(tally, key).clear()
    tally.latencies.clear()
    tally.ack_latencies.clear()
    tally.errors.clear()
    interval = 1.0 / rate
    total = int(rate * duration)
    start = time.perf_counter()
    for n in range(total):
        target = start + n * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await random.choice(customers).send(n)
    elapsed = time.perf_counter() - start
    # Drain: wait for the last messages, up to 10 s.
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and len(tally.received) < len(tally.sent_at):
        await asyncio.sleep(0.05)
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
        "ack_p50_ms": round(percentile(tally.ack_latencies, 0.50) * 1000, 2),
        "ack_p99_ms": round(percentile(tally.ack_latencies, 0.99) * 1000, 2),
        "errors": len(tally.errors),
    }


async def drive(args, ports: list[int], inbox: str) -> list[dict]:
    import httpx

    tally = Tally()
    measuring = asyncio.Event()
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    agents = []
    for i in range(args.agents):
        base = bases[i % len(bases)]
        session = await agent_session(base, f"bench-agent-{i}")
        agent = Agent(base.replace("http", "ws"), session, tally, measuring)
        await agent.start()
        agents.append(agent)
    customers = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(args.customers):
            base = bases[i % len(bases)]
            customer = Customer(base, base.replace("http", "ws"), inbox, tally)
            await customer.start(http)
            customers.append(customer)
    try:
        await asyncio.wait_for(asyncio.gather(*(c.assigned.wait() for c in customers)), timeout=120)
    except TimeoutError:
        waiting = sum(1 for c in customers if not c.assigned.is_set())
        raise RuntimeError(f"{waiting} of {len(customers)} conversations were never assigned") from None
    results = []
    try:
        rates = [args.rate]
        if args.ramp:
            rates = []
            r = args.ramp_start
            while r <= args.ramp_max:
                rates.append(r)
                r += args.ramp_step
        for rate in rates:
            step = await run_step(customers, rate, args.duration, tally)
            results.append(step)
            if args.ramp:
                print(json.dumps({"name": "relay.step", **step}), file=sys.stderr, flush=True)
                if step["p99_ms"] > 100 or step["lost"] or step["duplicated"]:
                    break
    finally:
        for client in [*customers, *agents]:
            await client.close()
    results.append({"acked": sorted(tally.acked), "conversations": sorted(tally.conversations)})
    return results


def run(args) -> list[dict]:
    if args.profile == "embedded" and args.procs != 1:
        raise SystemExit("The embedded profile is one process (in-memory layer): use --procs 1.")
    var_dir = ROOT / "var" / "bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(args.profile, var_dir)
    prepare_database(args.profile, env, var_dir)
    setup = django_run(SETUP, env, str(args.agents), str(args.customers))
    server = start_server(args.procs, env, args.pin, var_dir)
    try:
        if args.pin and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {(os.cpu_count() or 1) - 1})
        steps = asyncio.run(drive(args, server.ports, setup["inbox"]))
    finally:
        server.stop()
    ids = steps.pop()
    check = django_run(VERIFY, env, stdin=json.dumps(ids))
    load = os.getloadavg()[0]
    common = {
        "profile": args.profile,
        "procs": args.procs,
        "clients": args.customers + args.agents,
        "customers": args.customers,
        "agents": args.agents,
        "cores": os.cpu_count(),
        "loadavg_1m": round(load, 2),
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
