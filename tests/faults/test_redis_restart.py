"""Redis killed and started again empty under a running system, behind nginx, with Celery beat ticking.

The system (two daphne processes behind nginx, a Celery worker with beat) runs on a redis-server of the
test's own, so the machine's shared Redis is left alone. Ten customers are in conversations: three
assigned to an agent, two offered to an agent who has not answered yet, five waiting. While the
customers write, Redis gets SIGKILL and comes back empty on the same port: channel layer, broker, cache
and routing index are gone. Routing notices the missing state and rebuilds it from MySQL by itself (the
open offers are withdrawn and made again); the clients reconnect and resume. Then the slow agent accepts
and an agent who logs in late gets the five waiting conversations. Afterwards every acknowledged message
is in MySQL exactly once, every screen holds what MySQL holds, and every conversation is held by exactly
one agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest
from django.test import Client

from crm.roles import AGENT
from imsubsystem.models import Conversation
from routing.models import AssignmentEvent, Offer, OfferStatus, WorkItem, WorkStatus
from switchboard_client import Agent, Customer, close_all, settle, widget_tokens
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import check_holding, check_messages

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 10


def cookie_for(user) -> str:
    web = Client()
    web.force_login(user)
    return f"sessionid={web.cookies['sessionid'].value}"


def work_states() -> dict[str, int]:
    counts = {"waiting": 0, "offered": 0, "assigned": 0}
    for status in WorkItem.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


async def until(condition, timeout: float, what: str) -> None:
    from asgiref.sync import sync_to_async

    deadline = time.monotonic() + timeout
    while not await sync_to_async(condition)():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def test_redis_restarted_empty_loses_nothing_and_routing_comes_back(own_redis, start_cluster):
    cluster = start_cluster(redis_url=own_redis.url, daphnes=2, celery=True)
    queue = QueueFactory(name="Faults", offer_timeout_s=300)
    inbox = InboxFactory(key="faults", kind="web", default_queue=queue)
    users = {name: UserFactory(username=f"agent-{name}", role=AGENT) for name in ("fast", "slow", "late")}
    for name, capacity in (("fast", 3), ("slow", 2), ("late", CUSTOMERS)):
        AgentProfileFactory(user=users[name], status="offline", queues=[queue], default_capacity=capacity)
    base = cluster.base
    cookies = {name: cookie_for(user) for name, user in users.items()}

    async def scenario():
        fast = Agent(base, cookies["fast"], reply_every=8)
        slow = Agent(base, cookies["slow"], accepting=False, reply_every=8)
        late = Agent(base, cookies["late"], reply_every=8)
        await asyncio.gather(fast.open(timeout=30), slow.open(timeout=30))
        tokens = await widget_tokens(base, inbox.key, CUSTOMERS)
        customers = [Customer(base, token) for token in tokens]
        await asyncio.gather(*(c.open(timeout=30) for c in customers))
        for n, customer in enumerate(customers):  # one at a time, so the queue's order is known
            await customer.send(f"c{n} hello")
            await until(lambda n=n: WorkItem.objects.count() == n + 1, 20, f"conversation {n} queued")
        await until(lambda: work_states() == {"waiting": 5, "offered": 2, "assigned": 3}, 20, "3 assigned, 2 offered")
        assert len(slow.offers) == 2 and not slow.conversations

        async def write(rounds: int) -> None:
            for step in range(rounds):
                for n, customer in enumerate(customers):
                    await customer.send(f"c{n} m{step}")
                await asyncio.sleep(0.15)

        writing = asyncio.create_task(write(40))
        await asyncio.sleep(1.5)
        offers_before = slow.frame_counts["offer"]
        own_redis.kill()
        await asyncio.sleep(0.5)
        own_redis.start()
        # Nobody runs a command: the routing state comes back from MySQL (beat's tick or the next
        # decision) and the slow agent's two offers are withdrawn and made again.
        await until(
            lambda: (
                AssignmentEvent.objects.filter(detail="rebuild").count() == 2
                and Offer.objects.filter(status=OfferStatus.OPEN).count() == 2
            ),
            30,
            "the routing state rebuilt and the offers made again",
        )
        await until(lambda: slow.frame_counts["offer"] >= offers_before + 2, 20, "the new offers on the console")
        slow.accepting = True
        for offer_id in list(slow.offers):
            slow.accept(offer_id)
        # An agent who becomes available now gets the waiting work.
        late.start()
        await until(lambda: work_states() == {"waiting": 0, "offered": 0, "assigned": CUSTOMERS}, 30, "all assigned")
        await writing
        peers = [fast, slow, late, *customers]
        shares = ((fast, 3), (slow, 2), (late, CUSTOMERS - 5))
        await until(lambda: all(len(a.conversations) == n for a, n in shares), 20, "every console up to date")
        await settle(peers, timeout=40)
        await close_all(peers)
        return [fast, slow, late], customers

    agents, customers = asyncio.run(scenario())

    assert sum(p.reconnects for p in [*agents, *customers]) > 0, "the clients lost their sockets"
    check_messages(agents, customers)
    holders = check_holding(agents)
    assert sorted(holders) == sorted(Conversation.objects.values_list("pk", flat=True)), "a conversation lost"
    assert {a.user_id: len(a.conversations) for a in agents} == {
        users["fast"].pk: 3,
        users["slow"].pk: 2,
        users["late"].pk: CUSTOMERS - 5,
    }
    assert not Offer.objects.filter(status=OfferStatus.OPEN).exists()
    assert WorkItem.objects.filter(status=WorkStatus.ASSIGNED).count() == CUSTOMERS


async def test_a_widget_auth_that_fails_half_way_does_not_leave_the_socket_half_open(monkeypatch):
    from channels.db import database_sync_to_async

    from imsubsystem import auth
    from interface.sockets.base import SwitchSocket
    from tests.imsubsystem.conftest import receive_until, send, widget_communicator

    def setup():
        queue = QueueFactory(name="Faults")
        inbox = InboxFactory(key="faults", kind="web", default_queue=queue, config={"allowed_origins": ["*"]})
        return auth.widget_session_create(inbox=inbox, name="Vera", email="vera@example.org")[0]

    token = await database_sync_to_async(setup)()
    first = widget_communicator()
    await first.connect()
    await send(first, {"type": "auth", "token": token, "after_seq": 0})
    await send(first, {"type": "message.send", "client_id": "c1", "text": "hello"})
    await receive_until(first, "message.ack")
    await first.disconnect()

    join = SwitchSocket.join
    failures = []

    async def join_failing_once(self, group):
        if not failures:
            failures.append(group)
            raise ConnectionError("Redis is restarting")
        await join(self, group)

    monkeypatch.setattr(SwitchSocket, "join", join_failing_once)
    second = widget_communicator()
    await second.connect()
    await send(second, {"type": "auth", "token": token, "after_seq": 0})
    outputs = []
    with contextlib.suppress(asyncio.TimeoutError):
        while True:
            outputs.append(await second.receive_output(timeout=2))
    assert failures, "the join was tried"
    frames = [json.loads(o["text"]) for o in outputs if o["type"] == "websocket.send"]
    closed = any(o["type"] == "websocket.close" for o in outputs)
    # Either the socket recovered (ready, in its group) or it was closed so the client reconnects.
    assert closed or any(f["type"] == "ready" for f in frames), frames
    assert not (closed and any(f["type"] == "ready" for f in frames)), "closed after ready"
