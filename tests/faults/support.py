"""What the fault tests share: real server processes (daphne behind nginx, a Celery worker with beat, a
Redis of a test's own), protocol clients that survive their socket dying as the widget and the console
do, and the checks of the end state against MySQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# --- processes ---------------------------------------------------------------------------------------
class RedisServer:
    """A redis-server of the test's own, without persistence: kill() and start() again is a Redis that
    lost everything, on the same port, while the machine's shared Redis is left alone."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.workdir / f"redis-{self.port}.log", "a")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class Cluster:
    """daphne processes on the test database behind nginx; optionally a Celery worker with beat (the
    production shape of scripts/cluster.sh). Each process's log is under `workdir`."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        redis_url: str,
        *,
        daphnes: int = 2,
        celery: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            # Without a worker, routing's tasks run in the request; with one, they go through the broker.
            "CELERY_TASK_ALWAYS_EAGER": "0" if celery else "1",
            "INPROCESS_TIMERS": "0",
            "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.ports = [free_port() for _ in range(daphnes)]
        self.listen = free_port()
        self.base = f"http://127.0.0.1:{self.listen}"
        self.celery = celery
        self.daphne_procs: list[subprocess.Popen] = []
        self.other_procs: list[subprocess.Popen] = []
        self.nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        for port in self.ports:
            daphne = [str(BIN / "daphne"), "--proxy-headers", "-b", "127.0.0.1", "-p", str(port)]
            self.daphne_procs.append(self._spawn(f"daphne-{port}", [*daphne, "config.asgi:application"]))
        if self.celery:
            # One worker on every queue with beat inside it: routing.tick every second.
            self.other_procs.append(
                self._spawn(
                    "celery",
                    [
                        str(BIN / "celery"),
                        "-A",
                        "config",
                        "worker",
                        "-B",
                        "-s",
                        str(self.workdir / "celerybeat-schedule"),
                        "-Q",
                        "default,gateway,routing,media,bots",
                        "-c",
                        "1",
                        "--pool",
                        "solo",
                        "--loglevel",
                        "WARNING",
                    ],
                )
            )
        subprocess.run(
            [
                sys.executable,
                "deploy/nginx_conf.py",
                str(self.workdir),
                str(self.listen),
                str(self.workdir),
                *(f"127.0.0.1:{p}" for p in self.ports),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        subprocess.run([self.nginx, "-c", str(self.workdir / "nginx.conf"), "-p", str(self.workdir)], check=True)
        for port in [*self.ports, self.listen]:
            wait_port(port)

    def stop(self) -> None:
        subprocess.run(
            [self.nginx, "-c", str(self.workdir / "nginx.conf"), "-p", str(self.workdir), "-s", "stop"], check=False
        )
        for proc in [*self.daphne_procs, *self.other_procs]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.daphne_procs, *self.other_procs]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# --- clients -----------------------------------------------------------------------------------------
class Peer:
    """A protocol client that survives its socket dying: reconnect, resend unacknowledged, resume."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.ws_url = base.replace("http", "ws")
        self.unacked: dict[str, object] = {}  # client_id -> what to send again
        self.acked: set[str] = set()
        self.seen: dict[tuple[int, int], dict] = {}  # (conversation, seq) -> message
        self.hidden: set[tuple[int, int]] = set()
        self.ws = None
        self.reconnects = 0
        self.ready = asyncio.Event()
        self.errors: list = []
        self.rate_limited = 0
        self.tasks: set[asyncio.Task] = set()
        self.resumed_at: dict[int, float] = {}
        self.catching_up = False

    def spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(
            lambda t: t.cancelled() or t.exception() is None or self.errors.append(repr(t.exception()))
        )

    async def send_json(self, frame: dict) -> None:
        with contextlib.suppress(Exception):  # a dead socket: the reconnect sends it again
            await self.ws.send(json.dumps(frame))

    async def drop(self) -> None:
        """Close the socket as a network would: no closing handshake."""
        with contextlib.suppress(Exception):
            self.ws.transport.abort()

    async def resend_later(self, client_id: str) -> None:
        await asyncio.sleep(1.0)
        if client_id in self.unacked:
            await self.send_json(self.send_frame(client_id))

    async def catch_up_later(self) -> None:
        if self.catching_up:
            return
        self.catching_up = True
        try:
            await asyncio.sleep(1.5)
            for conversation_id in self.held():
                await self.send_json(self.resume_frame(conversation_id))
        finally:
            self.catching_up = False

    def held(self) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def send_frame(self, client_id: str) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def resume_frame(self, conversation_id: int) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def last_seq(self, conversation_id: int | None) -> int:
        """The resume point, as the widget and console keep it: every seq up to it is here."""
        known = {s for c, s in [*self.seen, *self.hidden] if c == conversation_id}
        upto = 0
        while upto + 1 in known:
            upto += 1
        return upto

    def on_frame(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "message.ack":
            self.acked.add(frame["client_id"])
            self.unacked.pop(frame["client_id"], None)
            self.remember(frame["message"])
        elif kind == "message.new":
            self.remember(frame["message"])
        elif kind == "message.hidden":
            self.hidden.add((frame["conversation_id"], frame["seq"]))
        elif kind == "error" and frame["code"] == "rate_limited" and frame.get("client_id") in self.unacked:
            # As the widget does: a burst (resends after a reconnect, frames queued behind a stall) is
            # answered "slow down"; the message stays pending and goes again with the same client_id.
            self.rate_limited += 1
            self.spawn(self.resend_later(frame["client_id"]))
        elif kind == "error" and frame["code"] == "rate_limited":
            # A resume (it names no client_id) refused in a burst: ask again for every conversation a
            # moment later.
            self.rate_limited += 1
            self.spawn(self.catch_up_later())
        elif kind == "error":
            self.errors.append(frame)

    def remember(self, message: dict) -> None:
        key = (message["conversation_id"], message["seq"])
        if message["seq"] > self.last_seq(key[0]) + 1:
            # A missing seq is a frame lost on the fast path: ask MySQL for what follows the last one
            # known, at most every two seconds per conversation (the widget's rule).
            now = time.monotonic()
            if now - self.resumed_at.get(key[0], 0) > 2:
                self.resumed_at[key[0]] = now
                self.spawn(self.send_json(self.resume_frame(key[0])))
        previous = self.seen.get(key)
        assert previous is None or previous["id"] == message["id"], f"two messages at {key}"
        self.seen[key] = message

    def screen(self, conversation_id: int) -> list[tuple[int, int]]:
        return sorted((s, m["id"]) for (c, s), m in self.seen.items() if c == conversation_id)


class Customer(Peer):
    def __init__(self, base: str, token: str) -> None:
        super().__init__(base)
        self.token = token
        self.conversation_id: int | None = None
        self.half_open = 0

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(f"{self.ws_url}/ws/v1/widget/", additional_headers={"Origin": self.base})
        after = self.last_seq(self.conversation_id) if self.conversation_id else 0
        await self.ws.send(json.dumps({"type": "auth", "token": self.token, "after_seq": after}))
        for client_id in list(self.unacked):
            await self.ws.send(json.dumps(self.send_frame(client_id)))

    def on_frame(self, frame: dict) -> None:
        if frame["type"] == "error" and frame.get("command") == "auth":
            # The server failed half-way through auth (Redis gone while joining the conversation's
            # group) and sent no `ready`: as the widget does, drop the socket and connect again
            # (test_redis_restart.py pins the half-open socket the server leaves).
            self.half_open += 1
            self.spawn(self.drop())
            return
        if frame["type"] == "ready" and frame["conversation_id"]:
            self.conversation_id = frame["conversation_id"]
        if frame["type"] == "message.ack":
            self.conversation_id = frame["message"]["conversation_id"]
        super().on_frame(frame)

    def send_frame(self, client_id: str) -> dict:
        return {"type": "message.send", "client_id": client_id, "text": self.unacked[client_id]}

    def resume_frame(self, conversation_id: int) -> dict:
        return {"type": "resume", "after_seq": self.last_seq(conversation_id)}

    def held(self) -> list[int]:
        return [self.conversation_id] if self.conversation_id else []

    async def send(self, text: str) -> None:
        client_id = str(uuid.uuid4())
        self.unacked[client_id] = text
        await self.send_json(self.send_frame(client_id))


class AgentPeer(Peer):
    """An agent console: available on every connect, accepts offers (unless `accepting` is off, when it
    only keeps them), loads a conversation's history when it gets it, and answers every eighth message."""

    def __init__(self, base: str, cookie: str, *, accepting: bool = True) -> None:
        super().__init__(base)
        self.cookie = cookie
        self.accepting = accepting
        self.user_id: int | None = None
        self.conversations: set[int] = set()  # held now, as this console was told
        self.offers: dict[str, int] = {}  # open offers: offer id -> conversation
        self.accepted: dict[str, int] = {}  # offer id -> the connection it was accepted on
        self.connections = 0
        self.gone = 0  # accepts answered offer_gone (answered twice, or withdrawn meanwhile)
        self.types: list[str] = []

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            f"{self.ws_url}/ws/v1/agent/", additional_headers={"Origin": self.base, "Cookie": self.cookie}
        )
        self.connections += 1
        await self.ws.send(json.dumps({"type": "presence.set", "status": "available"}))
        for conversation_id in self.conversations:
            await self.ws.send(json.dumps(self.resume_frame(conversation_id)))
        for client_id in list(self.unacked):
            await self.ws.send(json.dumps(self.send_frame(client_id)))

    def send_frame(self, client_id: str) -> dict:
        conversation_id, text = self.unacked[client_id]
        return {"type": "message.send", "conversation_id": conversation_id, "client_id": client_id, "text": text}

    def resume_frame(self, conversation_id: int) -> dict:
        return {"type": "resume", "conversation_id": conversation_id, "after_seq": self.last_seq(conversation_id)}

    def held(self) -> list[int]:
        return sorted(self.conversations)

    def hold(self, conversation_id: int) -> None:
        if conversation_id not in self.conversations:
            self.conversations.add(conversation_id)
            self.spawn(self.send_json(self.resume_frame(conversation_id)))  # its history, as the console loads it

    def accept(self, offer_id: str) -> None:
        # Once per connection: an offer shown again after a reconnect is answered again (the first
        # answer may have died with the socket).
        if self.accepted.get(offer_id) != self.connections:
            self.accepted[offer_id] = self.connections
            self.spawn(self.send_json({"type": "offer.accept", "offer_id": offer_id}))

    def on_frame(self, frame: dict) -> None:
        kind = frame["type"]
        self.types.append(kind)
        if kind == "agent.ready":
            self.user_id = frame["user"]["id"]
            self.offers.clear()  # the open ones follow this frame
            for conversation in frame["conversations"]:
                if conversation["status"] == "assigned" and conversation["assignee_id"] == self.user_id:
                    self.hold(conversation["id"])
        elif kind == "offer":
            self.offers[frame["offer_id"]] = frame["conversation"]["id"]
            if self.accepting:
                self.accept(frame["offer_id"])
        elif kind == "offer.closed":
            self.offers.pop(frame["offer_id"], None)
        elif kind == "conversation.assigned":
            conversation_id = frame["conversation"]["id"]
            self.offers = {o: c for o, c in self.offers.items() if c != conversation_id}
            if frame["agent"]["id"] == self.user_id:
                self.hold(conversation_id)
            else:
                self.conversations.discard(conversation_id)
        elif kind == "conversation.released":
            self.conversations.discard(frame["conversation_id"])
        elif kind == "error" and frame["code"] == "offer_gone" and frame.get("command") == "offer.accept":
            self.gone += 1  # as a console shows it: the offer went meanwhile; routing offers on
            return
        elif kind == "message.new" and frame["message"]["sender"]["kind"] == "customer":
            message = frame["message"]
            if message["seq"] % 8 == 0 and (message["conversation_id"], message["seq"]) not in self.seen:
                self.spawn(self.reply(message["conversation_id"], f"re {message['text']}"))
        super().on_frame(frame)

    async def reply(self, conversation_id: int, text: str) -> None:
        client_id = str(uuid.uuid4())
        self.unacked[client_id] = (conversation_id, text)
        await self.send_json(self.send_frame(client_id))


async def widget_tokens(base: str, inbox_key: str, count: int) -> list[str]:
    """`count` widget sessions opened over HTTP, as the widget opens them; their session tokens."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        tokens = []
        for n in range(count):
            response = await http.post(
                f"/api/v1/widget/{inbox_key}/sessions", json={"name": f"Customer {n}"}, headers={"Origin": base}
            )
            assert response.status_code == 201, response.text
            tokens.append(response.json()["session_token"])
    return tokens


async def keep_alive(peer: Peer, stop: asyncio.Event) -> None:
    """Read frames; when the socket dies, reconnect (through nginx, to whichever process is alive)."""
    while not stop.is_set():
        try:
            await peer.connect()
            peer.ready.set()
            async for raw in peer.ws:
                peer.on_frame(json.loads(raw))
        except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
            pass  # the connection died (or could not open yet): try again shortly; anything else fails
        if stop.is_set():
            break
        peer.reconnects += 1
        await asyncio.sleep(0.2)


async def settle(peers: list[Peer], timeout: float = 40) -> None:
    """Wait until every peer's messages are acknowledged, then have every screen catch up with MySQL
    (one last resume per conversation, as a reconnecting client would) and wait for the answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(p.unacked for p in peers):
        await asyncio.sleep(0.2)
    for peer in peers:
        for conversation_id in peer.held():
            await peer.send_json(peer.resume_frame(conversation_id))
    await asyncio.sleep(2)
    while time.monotonic() < deadline + 10 and any(p.catching_up for p in peers):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)


async def stop_all(peers: list[Peer], readers: list[asyncio.Task], stop: asyncio.Event) -> None:
    """Close every socket and fail on anything a reader raised (e.g. two messages seen at one seq)."""
    stop.set()
    for peer in peers:
        with contextlib.suppress(Exception):
            await peer.ws.close()
    failed = [r.exception() for r in readers if r.done() and not r.cancelled() and r.exception()]
    for reader in readers:
        reader.cancel()
    assert not failed, failed


# --- checks ------------------------------------------------------------------------------------------
def check_messages(agents: list[AgentPeer], customers: list[Customer], *, agent_screens: bool = True) -> list[dict]:
    """Every acknowledged message is in MySQL exactly once; every conversation's seq runs 1..N; every
    customer's screen is MySQL's conversation (less what was hidden from them); every agent's screen is
    MySQL's for each conversation it holds. Returns the rows."""
    from imsubsystem.models import Message

    peers = [*agents, *customers]
    assert not [e for p in peers for e in p.errors], [
        (type(p).__name__, p.errors[:3], p.reconnects) for p in peers if p.errors
    ]
    assert not any(p.unacked for p in peers), "something was never acknowledged"
    rows = list(Message.objects.values("id", "conversation_id", "seq", "client_id", "private"))
    by_client_id = Counter(r["client_id"] for r in rows if r["client_id"])
    acked = set().union(*(p.acked for p in peers))
    assert acked, "nothing was acknowledged"
    assert all(by_client_id.get(client_id) == 1 for client_id in acked), "an ack without exactly one row"
    assert all(n == 1 for n in by_client_id.values()), "a client_id stored twice"
    by_conversation: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        by_conversation.setdefault(row["conversation_id"], []).append((row["seq"], row["id"]))
    for mine in by_conversation.values():
        mine.sort()
        assert [s for s, _ in mine] == list(range(1, len(mine) + 1)), "seq with a gap in MySQL"
    for customer in customers:
        hidden = {s for c, s in customer.hidden if c == customer.conversation_id}
        expected = [(s, i) for s, i in by_conversation.get(customer.conversation_id, []) if s not in hidden]
        assert customer.screen(customer.conversation_id) == expected, "a customer's screen differs from MySQL"
    if agent_screens:
        for agent in agents:
            for conversation_id in agent.conversations:
                assert agent.screen(conversation_id) == by_conversation.get(conversation_id, []), (
                    "an agent's screen differs from MySQL"
                )
    return rows


def check_holding(agents: list[AgentPeer]) -> dict[int, int]:
    """No conversation held by two agents: MySQL's conversation, routing's work item and each console
    agree on one holder, and no agent holds more than its capacity. Returns conversation -> agent."""
    from imsubsystem.models import Conversation
    from routing.models import AgentProfile, WorkItem, WorkStatus

    assigned = dict(Conversation.objects.filter(status="assigned").values_list("pk", "assignee_id"))
    work = dict(WorkItem.objects.filter(status=WorkStatus.ASSIGNED).values_list("ref", "agent_id"))
    assert assigned == work, "the switch and routing disagree on who holds what"
    consoles: dict[int, list[int]] = {}
    for agent in agents:
        for conversation_id in agent.conversations:
            consoles.setdefault(conversation_id, []).append(agent.user_id)
    assert all(len(holders) == 1 for holders in consoles.values()), "a conversation on two agents' consoles"
    assert {c: h[0] for c, h in consoles.items()} == assigned, "the consoles differ from MySQL"
    load = Counter(assigned.values())
    for profile in AgentProfile.objects.filter(user_id__in=load):
        assert load[profile.user_id] <= profile.default_capacity, "an agent above capacity"
    return assigned
