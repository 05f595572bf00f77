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
a resume. At the end every client settles (all acknowledged, one last resume) and VERIFY compares every
screen with MySQL (`screens_differ`), counts conversations on two agents' consoles (`held_twice`) and
ones where the consoles, the switch and routing name different agents (`holder_mismatch`).
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
    group.add_argument("--rate", type=float, default=1000.0, help="offered messages per second, all customers")
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
    group.add_argument("--pin", action="store_true", default=True, help="pin daphne and the generator to cores")
    group.add_argument("--no-pin", dest="pin", action="store_false")


# --- the server under test ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(profile: str, var_dir: Path, layer: str = "switchboard") -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "ROUTING_BACKEND", "CHANNEL_LAYER_BACKEND"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "bench-secret-key-0123456789-0123456789-abcdef",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "0",
            "STATIC_MANIFEST": "0",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SWITCHBOARD_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            "INPROCESS_TIMERS": "0",
            # Every simulated customer comes from 127.0.0.1.
            "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
        }
    )
    if profile == "production":
        env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"mysql://root@127.0.0.1:3306/{BENCH_DB}")
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
        # Routing decisions and bot hand-offs run in the request; the benchmark has no Celery worker.
        env["CELERY_TASK_ALWAYS_EAGER"] = "1"
        env["CHANNEL_LAYER_BACKEND"] = layer
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
from bench.relay import verify
print(json.dumps(verify(json.loads(sys.stdin.read()))))
"""


def verify(ids: dict) -> dict:
    """The end state against MySQL (run with Django set up, on the server's database): acknowledged
    messages stored once, seq 1..N per conversation, every screen equal to MySQL's conversation, every
    conversation held by one agent, and the switch and routing agreeing on who."""
    from imsubsystem.models import Conversation, Message
    from routing.models import WorkItem, WorkStatus

    conv_ids, acked = ids["conversations"], set(ids["acked"])
    rows = list(
        Message.objects.filter(conversation_id__in=conv_ids).values_list("conversation_id", "seq", "client_id", "id")
    )
    by_client: dict[str, int] = {}
    by_conversation: dict[int, list[list[int]]] = {}
    for conv, seq, client_id, pk in rows:
        if client_id:
            by_client[client_id] = by_client.get(client_id, 0) + 1
        by_conversation.setdefault(conv, []).append([seq, pk])
    gaps = 0
    for conv in Conversation.objects.filter(pk__in=conv_ids):
        seqs = sorted(s for s, _ in by_conversation.get(conv.pk, []))
        if seqs != list(range(1, len(seqs) + 1)) or (seqs and seqs[-1] != conv.last_seq):
            gaps += 1
    screens_differ = 0
    differ_sample = []
    for screen in ids.get("screens", []):
        hidden = set(screen.get("hidden", ()))
        stored = sorted(m for m in by_conversation.get(screen["conversation"], []) if m[0] not in hidden)
        shown = [list(m) for m in screen["messages"]]
        if shown != stored:
            screens_differ += 1
            if len(differ_sample) < 5:
                differ_sample.append(
                    {
                        "client": screen.get("client"),
                        "conversation": screen["conversation"],
                        "missing_seqs": sorted(s for s, _ in stored if [s, _] not in shown),
                        "extra_seqs": sorted(s for s, _ in shown if [s, _] not in stored),
                        "last_stored_seq": stored[-1][0] if stored else 0,
                    }
                )
    assigned = dict(Conversation.objects.filter(pk__in=conv_ids, status="assigned").values_list("pk", "assignee_id"))
    work = dict(WorkItem.objects.filter(ref__in=conv_ids, status=WorkStatus.ASSIGNED).values_list("ref", "agent_id"))
    held = {int(c): agents for c, agents in ids.get("held", {}).items()}
    return {
        "db_messages": len(rows),
        "db_duplicated": sum(n - 1 for n in by_client.values() if n > 1),
        "db_missing": len([c for c in acked if c not in by_client]),
        "seq_gaps": gaps,
        "never_acked": ids.get("unacked", 0),
        "screens_checked": len(ids.get("screens", [])),
        "screens_differ": screens_differ,
        "screens_differ_sample": differ_sample,
        "held_twice": sum(1 for agents in held.values() if len(agents) > 1),
        "holder_mismatch": sum(
            1
            for c in set(assigned) | set(work) | set(held)
            if not (assigned.get(c) == work.get(c) == (held.get(c) or [None])[0])
        ),
    }


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
    drops: int = 0
    reconnects: int = 0


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


class Client:
    """A socket that, like the widget and the console, comes back when it drops: it reconnects, resumes
    from the last seq it holds and sends again, with the same client_id, what was not acknowledged.
    What it shows is kept per conversation by seq (`screen`); a replay that overlaps is dropped by seq."""

    path = ""

    def __init__(self, base: str, tally: Tally) -> None:
        self.base, self.tally = base, tally
        self.base_ws = base.replace("http://", "ws://")
        self.ws = None
        self.task: asyncio.Task | None = None
        self.closing = False
        self.connected = asyncio.Event()
        self.unacked: dict[str, dict] = {}  # client_id -> the message.send frame
        self.screen: dict[int, dict[int, int]] = {}  # conversation -> seq -> message id
        self.hidden: dict[int, set[int]] = {}  # conversation -> seqs of notes not shown to this client
        self.resumed_at: dict[int, float] = {}
        self.later: set[asyncio.Task] = set()

    def headers(self) -> dict[str, str]:
        return {"Origin": self.base}

    async def on_connect(self) -> None:  # the first frames of a (re)connection
        raise NotImplementedError

    async def on_frame(self, frame: dict, now: float) -> None:
        raise NotImplementedError

    def resume_frame(self, conversation_id: int) -> dict:
        raise NotImplementedError

    def held(self) -> list[int]:
        raise NotImplementedError

    def last_seq(self, conversation_id: int | None) -> int:
        """The resume point, as the widget and console keep it: every seq up to it is on screen or known
        hidden. A seq seen above a hole does not move it, so the hole is asked for again."""
        known = set(self.screen.get(conversation_id, {})) | set(self.hidden.get(conversation_id, ()))
        upto = 0
        while upto + 1 in known:
            upto += 1
        return upto

    async def send_json(self, frame: dict) -> bool:
        try:
            await self.ws.send(json.dumps(frame))
            return True
        except Exception:
            return False  # the socket is down: the reconnect sends it again

    def soon(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.later.add(task)
        task.add_done_callback(self.later.discard)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run())
        await asyncio.wait_for(self.connected.wait(), 60)

    async def run(self) -> None:
        from websockets.asyncio.client import connect

        first = True
        while not self.closing:
            try:
                self.ws = await connect(
                    f"{self.base_ws}{self.path}", additional_headers=self.headers(), max_queue=None, ping_interval=None
                )
                await self.on_connect()
                for frame in list(self.unacked.values()):
                    await self.ws.send(json.dumps(frame))
                self.connected.set()
                async for raw in self.ws:
                    await self.on_frame(json.loads(raw), time.perf_counter())
            except Exception as exc:  # a dropped or refused socket: connect again
                if not isinstance(exc, OSError | TimeoutError) and "ConnectionClosed" not in type(exc).__name__:
                    self.tally.errors.append(type(exc).__name__)
            if self.closing:
                break
            if not first or self.connected.is_set():
                self.tally.reconnects += 1
            first = False
            await asyncio.sleep(0.1 + random.random() * 0.2)

    def drop(self) -> bool:
        """Close the socket as a lost network does (no closing handshake)."""
        if self.ws is None or self.closing:
            return False
        with contextlib.suppress(Exception):
            self.ws.transport.abort()
        return True

    def remember(self, message: dict) -> bool:
        """Keep a message on the screen; False when it was there already (a replay overlapping)."""
        conversation_id, seq = message["conversation_id"], message["seq"]
        shown = self.screen.setdefault(conversation_id, {})
        if seq in shown:
            if shown[seq] != message["id"]:
                self.tally.errors.append("two_messages_at_one_seq")
            return False
        if seq > self.last_seq(conversation_id) + 1:
            # A gap: a frame lost on the fast path. Ask MySQL for what follows, at most every 2 s.
            now = time.monotonic()
            if now - self.resumed_at.get(conversation_id, 0) > 2:
                self.resumed_at[conversation_id] = now
                self.soon(self.send_json(self.resume_frame(conversation_id)))
        shown[seq] = message["id"]
        return True

    def on_error(self, frame: dict) -> None:
        code = frame.get("code", "?")
        if code == "rate_limited" and frame.get("client_id") in self.unacked:
            # As the widget does: the message stays pending and goes again a moment later.
            self.soon(self.resend_later(frame["client_id"]))
        elif code == "rate_limited":
            self.soon(self.catch_up_later())  # a resume refused in a burst: ask again
        elif code == "offer_gone" and frame.get("command") == "offer.accept":
            pass  # answered twice around a reconnect, or withdrawn meanwhile: routing offers on
        elif frame.get("command") == "auth":
            self.drop()  # the server failed half-way through auth: connect again (the widget's rule)
        else:
            self.tally.errors.append(code)

    async def resend_later(self, client_id: str) -> None:
        await asyncio.sleep(1 + random.random())
        if client_id in self.unacked:
            await self.send_json(self.unacked[client_id])

    async def catch_up_later(self) -> None:
        await asyncio.sleep(1 + random.random())
        for conversation_id in self.held():
            await self.send_json(self.resume_frame(conversation_id))

    async def catch_up(self) -> None:
        for conversation_id in self.held():
            await self.send_json(self.resume_frame(conversation_id))

    async def close(self) -> None:
        self.closing = True
        if self.ws:
            with contextlib.suppress(Exception):
                await self.ws.close()
        for task in [self.task, *self.later]:
            if task:
                task.cancel()


class Agent(Client):
    path = "/ws/v1/agent/"

    def __init__(self, base: str, session: str, tally: Tally) -> None:
        super().__init__(base, tally)
        self.session = session
        self.user_id: int | None = None
        self.conversations: set[int] = set()  # held, as this console was told
        self.accepted: dict[str, int] = {}  # offer id -> the connection it was answered on
        self.connections = 0

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"sessionid={self.session}", "Origin": self.base}

    def held(self) -> list[int]:
        return sorted(self.conversations)

    def resume_frame(self, conversation_id: int) -> dict:
        return {"type": "resume", "conversation_id": conversation_id, "after_seq": self.last_seq(conversation_id)}

    async def on_connect(self) -> None:
        self.connections += 1
        await self.ws.send(json.dumps({"type": "presence.set", "status": "available"}))
        for conversation_id in self.held():
            await self.ws.send(json.dumps(self.resume_frame(conversation_id)))

    async def on_frame(self, frame: dict, now: float) -> None:
        kind = frame.get("type")
        if kind == "offer":
            # Once per connection: an offer shown again after a reconnect may have lost its answer.
            if self.accepted.get(frame["offer_id"]) != self.connections:
                self.accepted[frame["offer_id"]] = self.connections
                await self.send_json({"type": "offer.accept", "offer_id": frame["offer_id"]})
        elif kind == "agent.ready":
            self.user_id = frame["user"]["id"]
            for conversation in frame["conversations"]:
                if conversation["status"] == "assigned" and conversation["assignee_id"] == self.user_id:
                    self.hold(conversation["id"])
        elif kind == "conversation.assigned":
            if frame["agent"]["id"] == self.user_id:
                self.hold(frame["conversation"]["id"])
            else:
                self.conversations.discard(frame["conversation"]["id"])
        elif kind == "conversation.released":
            self.conversations.discard(frame["conversation_id"])
        elif kind == "message.new":
            message = frame["message"]
            if not self.remember(message):
                return
            client_id = message.get("client_id")
            if message["sender"]["kind"] == "customer" and client_id in self.tally.sent_at:
                count = self.tally.received.get(client_id, 0) + 1
                self.tally.received[client_id] = count
                if count == 1:
                    self.tally.latencies.append(now - self.tally.sent_at[client_id])
        elif kind == "error":
            self.on_error(frame)

    def hold(self, conversation_id: int) -> None:
        if conversation_id not in self.conversations:
            self.conversations.add(conversation_id)
            # Its history, as the console loads it when the conversation arrives.
            self.soon(self.send_json(self.resume_frame(conversation_id)))


class Customer(Client):
    path = "/ws/v1/widget/"

    def __init__(self, base: str, inbox: str, tally: Tally) -> None:
        super().__init__(base, tally)
        self.inbox = inbox
        self.conversation_id: int | None = None
        self.token = ""

    async def begin(self, http) -> None:
        response = await http.post(
            f"{self.base}/api/v1/widget/{self.inbox}/sessions",
            json={"name": "Bench customer"},
            headers={"Origin": self.base},
        )
        response.raise_for_status()
        self.token = response.json()["session_token"]
        self.queue_message("hello")
        await self.start()

    def held(self) -> list[int]:
        return [self.conversation_id] if self.conversation_id else []

    def resume_frame(self, conversation_id: int) -> dict:
        return {"type": "resume", "after_seq": self.last_seq(conversation_id)}

    async def on_connect(self) -> None:
        after = self.last_seq(self.conversation_id)
        await self.ws.send(json.dumps({"type": "auth", "token": self.token, "after_seq": after}))

    async def on_frame(self, frame: dict, now: float) -> None:
        kind = frame.get("type")
        if kind == "message.ack":
            client_id = frame["client_id"]
            if self.unacked.pop(client_id, None) is not None:
                sent_at = self.tally.sent_at.get(client_id)
                if sent_at is not None:
                    self.tally.ack_latencies.append(now - sent_at)
            self.tally.acked.add(client_id)
            self.conversation_id = frame["message"]["conversation_id"]
            self.tally.conversations.add(self.conversation_id)
            self.remember(frame["message"])
        elif kind == "message.new":
            self.remember(frame["message"])
        elif kind == "message.hidden":
            self.hidden.setdefault(frame["conversation_id"], set()).add(frame["seq"])
        elif kind == "ready" and frame.get("conversation_id"):
            self.conversation_id = frame["conversation_id"]
        elif kind == "error":
            self.on_error(frame)

    def queue_message(self, text: str) -> str:
        client_id = str(uuid.uuid4())
        self.unacked[client_id] = {"type": "message.send", "client_id": client_id, "text": text}
        return client_id

    async def send(self, n: int) -> None:
        client_id = self.queue_message(f"bench {n}")
        self.tally.sent_at[client_id] = time.perf_counter()
        await self.send_json(self.unacked[client_id])


async def dropper(clients: list[Client], fraction: float, every: float, tally: Tally, stop: asyncio.Event) -> None:
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


async def drive(args, bases: list[str], inbox: str) -> list[dict]:
    """Connect the agents and customers (spread over `bases`), wait until routing assigned every
    conversation, run the steps (with sockets dropping when asked), then let every client settle: all
    its messages acknowledged and its screen caught up with MySQL. The last item is what VERIFY needs."""
    import httpx

    tally = Tally()
    agents = []
    for i in range(args.agents):
        base = bases[i % len(bases)]
        agent = Agent(base, await agent_session(base, f"bench-agent-{i}"), tally)
        await agent.start()
        agents.append(agent)
    customers = []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(args.customers):
            customer = Customer(bases[i % len(bases)], inbox, tally)
            await customer.begin(http)
            customers.append(customer)
    clients: list[Client] = [*agents, *customers]

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
            step = await run_step(customers, rate, args.duration, tally)
            step.update(drops=tally.drops, reconnects=tally.reconnects)
            results.append(step)
            if args.ramp:
                print(json.dumps({"name": "relay.step", **step}), file=sys.stderr, flush=True)
                if step["p99_ms"] > 100 or step["lost"] or step["duplicated"]:
                    break
        stop.set()
        if churn:
            await churn
        # Settle: every message acknowledged, then one last resume per conversation held.
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(c.unacked for c in clients):
            await asyncio.sleep(0.1)
        for client in clients:
            await client.catch_up()
        await asyncio.sleep(2)
        while time.perf_counter() < deadline + 10 and any(c.later for c in clients):
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        for client in clients:
            await client.close()
    screens = [
        {
            "client": f"{type(client).__name__.lower()}-{clients.index(client)}",
            "conversation": conversation_id,
            "messages": sorted(client.screen.get(conversation_id, {}).items()),
            "hidden": sorted(client.hidden.get(conversation_id, ())),
        }
        for client in clients
        for conversation_id in client.held()
    ]
    held: dict[int, list[int]] = {}
    for agent in agents:
        for conversation_id in agent.conversations:
            held.setdefault(conversation_id, []).append(agent.user_id)
    results.append(
        {
            "acked": sorted(tally.acked),
            "conversations": sorted(tally.conversations),
            "unacked": sum(len(c.unacked) for c in clients),
            "client_errors": sorted(set(tally.errors)),
            "screens": screens,
            "held": {str(c): agents_ for c, agents_ in held.items()},
        }
    )
    return results


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
    var_dir = ROOT / "var" / "bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(args.profile, var_dir, layer)
    prepare_database(args.profile, env, var_dir)
    setup = django_run(SETUP, env, str(args.agents), str(args.customers))
    server = start_server(args.procs, env, args.pin, var_dir)
    try:
        if args.pin and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {(os.cpu_count() or 1) - 1})
        steps = asyncio.run(drive(args, [f"http://127.0.0.1:{p}" for p in server.ports], setup["inbox"]))
    finally:
        server.stop()
    ids = steps.pop()
    check = django_run(VERIFY, env, stdin=json.dumps(ids))
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
