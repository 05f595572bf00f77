"""A daphne process killed with customers and an agent mid-conversation, behind nginx.

Two daphne processes serve one nginx; twenty customers write and an agent answers. One process gets
SIGKILL in the middle. Clients whose socket died reconnect through nginx (to the survivor), resend what
was not acknowledged with the same client_id, and resume from their last seq. Afterwards every
acknowledged message is in MySQL exactly once, and every customer's screen holds exactly what MySQL holds.
"""

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
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from crm.roles import AGENT
from imsubsystem.models import Message
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 20


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


@pytest.fixture
def cluster(tmp_path):
    """Two daphne processes on the test database and Redis, behind nginx."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "ROUTING_INPROCESS_TIMERS": "0",
        "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
        "LOG_LEVEL": "WARNING",
    }
    ports = [free_port(), free_port()]
    procs = []
    for port in ports:
        log = open(tmp_path / f"daphne-{port}.log", "w")  # noqa: SIM115 - lives as long as the process
        procs.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "daphne"),
                    "--proxy-headers",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "config.asgi:application",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    listen = free_port()
    subprocess.run(
        [
            sys.executable,
            "deploy/nginx_conf.py",
            str(tmp_path),
            str(listen),
            str(tmp_path),
            *(f"127.0.0.1:{p}" for p in ports),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    nginx = "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"
    subprocess.run([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], check=True)
    try:
        for port in [*ports, listen]:
            wait_port(port)
        yield {"base": f"http://127.0.0.1:{listen}", "procs": procs}
    finally:
        subprocess.run([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-s", "stop"], check=False)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


class Peer:
    """A protocol client that survives its socket dying: reconnect, resend unacknowledged, resume."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.ws_url = base.replace("http", "ws")
        self.unacked: dict[str, str] = {}  # client_id -> text
        self.acked: set[str] = set()
        self.seen: dict[tuple[int, int], dict] = {}  # (conversation, seq) -> message
        self.hidden: set[tuple[int, int]] = set()
        self.ws = None
        self.reconnects = 0
        self.ready = asyncio.Event()
        self.errors: list[dict] = []
        self.rate_limited = 0
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(
            lambda t: t.cancelled() or t.exception() is None or self.errors.append(repr(t.exception()))
        )

    async def resend_later(self, client_id: str) -> None:
        await asyncio.sleep(1.0)
        if client_id in self.unacked:
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps(self.send_frame(client_id)))

    def last_seq(self, conversation_id: int) -> int:
        seqs = [s for c, s in [*self.seen, *self.hidden] if c == conversation_id]
        return max(seqs, default=0)

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
        elif kind == "error":
            self.errors.append(frame)

    def remember(self, message: dict) -> None:
        key = (message["conversation_id"], message["seq"])
        previous = self.seen.get(key)
        assert previous is None or previous["id"] == message["id"], f"two messages at {key}"
        self.seen[key] = message


class Customer(Peer):
    def __init__(self, base: str, token: str) -> None:
        super().__init__(base)
        self.token = token
        self.conversation_id: int | None = None

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(f"{self.ws_url}/ws/v1/widget/", additional_headers={"Origin": self.base})
        after = self.last_seq(self.conversation_id) if self.conversation_id else 0
        await self.ws.send(json.dumps({"type": "auth", "token": self.token, "after_seq": after}))
        for client_id in list(self.unacked):
            await self.ws.send(json.dumps(self.send_frame(client_id)))

    def on_frame(self, frame: dict) -> None:
        if frame["type"] == "ready" and frame["conversation_id"]:
            self.conversation_id = frame["conversation_id"]
        if frame["type"] == "message.ack":
            self.conversation_id = frame["message"]["conversation_id"]
        super().on_frame(frame)

    def send_frame(self, client_id: str) -> dict:
        return {"type": "message.send", "client_id": client_id, "text": self.unacked[client_id]}

    async def send(self, text: str) -> None:
        client_id = str(uuid.uuid4())
        self.unacked[client_id] = text
        with contextlib.suppress(Exception):  # a dead socket: the reconnect resends it
            await self.ws.send(json.dumps(self.send_frame(client_id)))


class AgentPeer(Peer):
    def __init__(self, base: str, cookie: str) -> None:
        super().__init__(base)
        self.cookie = cookie
        self.conversations: set[int] = set()
        self.types: list[str] = []

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            f"{self.ws_url}/ws/v1/agent/", additional_headers={"Origin": self.base, "Cookie": self.cookie}
        )
        await self.ws.send(json.dumps({"type": "presence.set", "status": "available"}))
        for conversation_id in self.conversations:
            after = self.last_seq(conversation_id)
            await self.ws.send(json.dumps({"type": "resume", "conversation_id": conversation_id, "after_seq": after}))
        for client_id, (conversation_id, text) in list(self.unacked.items()):
            await self.ws.send(
                json.dumps(
                    {"type": "message.send", "conversation_id": conversation_id, "client_id": client_id, "text": text}
                )
            )

    def on_frame(self, frame: dict) -> None:
        self.types.append(frame["type"])
        if frame["type"] == "offer":
            self.spawn(self.ws.send(json.dumps({"type": "offer.accept", "offer_id": frame["offer_id"]})))
        elif frame["type"] == "conversation.assigned":
            self.conversations.add(frame["conversation"]["id"])
        elif frame["type"] == "message.new" and frame["message"]["sender"]["kind"] == "customer":
            message = frame["message"]
            self.conversations.add(message["conversation_id"])
            if message["seq"] % 8 == 0 and (message["conversation_id"], message["seq"]) not in self.seen:
                self.spawn(self.reply(message["conversation_id"], f"re {message['text']}"))
        super().on_frame(frame)

    async def reply(self, conversation_id: int, text: str) -> None:
        client_id = str(uuid.uuid4())
        self.unacked[client_id] = (conversation_id, text)
        with contextlib.suppress(Exception):
            await self.ws.send(
                json.dumps(
                    {"type": "message.send", "conversation_id": conversation_id, "client_id": client_id, "text": text}
                )
            )


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


def test_a_killed_daphne_loses_and_doubles_nothing(cluster):
    queue = QueueFactory(name="Faults", offer_timeout_s=60)
    inbox = InboxFactory(key="faults", kind="web", default_queue=queue)
    agent = UserFactory(username="fault-agent", role=AGENT)
    AgentProfileFactory(user=agent, status="offline", queues=[queue], default_capacity=CUSTOMERS + 5)
    web = Client()
    web.force_login(agent)
    cookie = f"sessionid={web.cookies['sessionid'].value}"
    base = cluster["base"]

    async def scenario():
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            tokens = []
            for n in range(CUSTOMERS):
                response = await http.post(
                    f"/api/v1/widget/{inbox.key}/sessions", json={"name": f"Customer {n}"}, headers={"Origin": base}
                )
                assert response.status_code == 201, response.text
                tokens.append(response.json()["session_token"])
        agent_peer = AgentPeer(base, cookie)
        customers = [Customer(base, token) for token in tokens]
        readers = [asyncio.create_task(keep_alive(p, stop)) for p in [agent_peer, *customers]]
        await asyncio.wait_for(asyncio.gather(*(p.ready.wait() for p in [agent_peer, *customers])), 30)
        for step in range(40):
            for n, customer in enumerate(customers):
                await customer.send(f"c{n} m{step}")
            if step == 15:
                cluster["procs"][0].send_signal(signal.SIGKILL)
            await asyncio.sleep(0.05)
        # Everything acknowledged, agent answers included, within a bound.
        deadline = time.monotonic() + 60
        peers = [agent_peer, *customers]
        while time.monotonic() < deadline and any(p.unacked for p in peers):
            await asyncio.sleep(0.2)
        # One last resume from every customer so late frames are in.
        for customer in customers:
            with contextlib.suppress(Exception):
                await customer.ws.send(
                    json.dumps({"type": "resume", "after_seq": customer.last_seq(customer.conversation_id)})
                )
        await asyncio.sleep(2)
        stop.set()
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.ws.close()
        failed = [r.exception() for r in readers if r.done() and not r.cancelled() and r.exception()]
        for reader in readers:
            reader.cancel()
        assert not failed, failed  # e.g. two different messages seen at one seq
        return agent_peer, customers

    agent_peer, customers = asyncio.run(scenario())

    assert cluster["procs"][0].poll() is not None, "the first daphne process was killed"
    assert sum(c.reconnects for c in [agent_peer, *customers]) > 0, "some clients lost their socket"
    assert not [e for p in [agent_peer, *customers] for e in p.errors], [
        (type(p).__name__, len(p.errors), p.reconnects) for p in [agent_peer, *customers] if p.errors
    ]
    assert not agent_peer.unacked and not any(c.unacked for c in customers), "something was never acknowledged"
    rows = list(Message.objects.values("id", "conversation_id", "seq", "client_id", "private"))
    by_client_id: dict[str, int] = {}
    for row in rows:
        if row["client_id"]:
            by_client_id[row["client_id"]] = by_client_id.get(row["client_id"], 0) + 1
    acked = agent_peer.acked.union(*(c.acked for c in customers))
    assert acked and all(by_client_id.get(client_id) == 1 for client_id in acked), "an ack without exactly one row"
    assert all(n == 1 for n in by_client_id.values()), "a client_id stored twice"
    for customer in customers:
        mine = sorted((r["seq"], r["id"]) for r in rows if r["conversation_id"] == customer.conversation_id)
        assert [s for s, _ in mine] == list(range(1, len(mine) + 1)), "seq with a gap in MySQL"
        seen = sorted((s, m["id"]) for (c, s), m in customer.seen.items() if c == customer.conversation_id)
        hidden = {s for c, s in customer.hidden if c == customer.conversation_id}
        assert seen == [(s, i) for s, i in mine if s not in hidden], "the customer's screen differs from MySQL"
    assert any(r["client_id"] in agent_peer.acked for r in rows), (
        agent_peer.reconnects,
        __import__("collections").Counter(agent_peer.types),
    )
