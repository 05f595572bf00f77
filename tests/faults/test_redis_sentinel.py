"""The Redis primary killed under load, with Sentinel promoting its replica; nothing restarts.

On loopback, on free ports: a Redis primary, a replica of it (`--replicaof`) and three sentinels
(`redis-server <conf> --sentinel`, the sentinel.conf of docs/deployment.md with a 1 s
down-after-milliseconds). Two daphne processes behind nginx and a Celery worker with beat reach Redis only
through the sentinels (REDIS_SENTINELS): channel layer, cache, routing, rate limits, broker. Ten customers
are in conversations (three assigned, two offered to an agent who has not answered, five waiting) and a
Telegram customer gets the agent's answers through the worker and a stand-in platform. While everyone
writes, the primary gets SIGKILL. The sentinels promote the replica; every process follows it without a
restart: the channel layer's subscriptions come back on the new primary and the sockets are reset and
resume, routing sees a primary it was not built on and rebuilds its state from MySQL (the offers are
withdrawn and made again), the worker's sweep sends what its lost tasks did not. Afterwards every
acknowledged message is in MySQL once, every screen equals MySQL, every conversation has one holder, the
platform got each answer once and in order. The time from the kill to the first message delivered again
is printed (docs/performance.md, "Redis failover").
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import redis
from asgiref.sync import sync_to_async

from crm.roles import AGENT
from gateway.models import OutboxItem
from imsubsystem.models import Conversation
from imsubsystem.services import message_send
from routing.models import AssignmentEvent, Offer, OfferStatus, WorkItem, WorkStatus
from switchboard_client import Agent, Customer, close_all, settle, widget_tokens
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import RedisSentinel, RedisServer, alive, check_holding, check_messages
from tests.faults.test_redis_restart import cookie_for, until
from tests.gateway.conftest import Reply, StandIn
from tests.gateway.test_webhooks import tg_update

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 10
SERVICE = "mymaster"
ANSWERS = 24  # the agent's answers to the Telegram customer, written across the failover


def work_states(queue) -> dict[str, int]:
    """The web queue's work by state (the Telegram conversation waits in a queue of its own)."""
    counts = {"waiting": 0, "offered": 0, "assigned": 0}
    for status in WorkItem.objects.filter(queue=queue).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def info(port: int, section: str = "replication") -> dict[str, str]:
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)
    try:
        return {k: str(v) for k, v in client.info(section).items()}
    finally:
        client.close()


@pytest.fixture
def sentinel_redis(tmp_path):
    """A primary, its replica and three sentinels watching them, all in step; killed at the end."""
    primary = RedisServer(tmp_path)
    primary.start()
    replica = RedisServer(tmp_path, replica_of=primary.port)
    replica.start()
    # Staggered by half a second: three sentinels that see the primary go at the same instant (on
    # loopback they do) each vote for themselves, and the split vote costs two failover timeouts.
    sentinels = [
        RedisSentinel(tmp_path, primary.port, service=SERVICE, down_after_ms=1000 + 500 * n, failover_timeout_ms=2000)
        for n in range(3)
    ]
    try:
        wait_for(lambda: info(replica.port).get("master_link_status") == "up", 20, "the replica in sync")
        for sentinel in sentinels:
            sentinel.start()

        def in_step() -> bool:
            for sentinel in sentinels:
                client = redis.Redis(port=sentinel.port, decode_responses=True)
                try:
                    state = client.sentinel_master(SERVICE)
                finally:
                    client.close()
                if int(state["num-other-sentinels"]) != 2 or int(state["num-slaves"]) != 1:
                    return False
            return True

        # A failover needs a majority of sentinels that know each other (they meet every 2 s).
        wait_for(in_step, 30, "the sentinels to know the replica and each other")
        yield primary, replica, sentinels
    finally:
        for server in [*sentinels, replica, primary]:
            server.kill()


def test_the_primary_killed_under_load_fails_over_and_loses_nothing(
    client, sentinel_redis, start_cluster, monkeypatch, record_property
):
    primary, replica, sentinels = sentinel_redis
    stand_in = StandIn()
    ids = iter(range(1, 10_000))

    def answer(request):
        time.sleep(0.02)
        return Reply(200, {"ok": True, "result": {"message_id": next(ids)}})

    stand_in.default = answer
    cluster = start_cluster(
        redis_url=f"redis://{SERVICE}/0",  # the database; the sentinels name the server
        daphnes=2,
        celery=True,
        env={
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in sentinels),
            "REDIS_SENTINEL_SERVICE": SERVICE,
            "CELERY_BROKER_URL": "",  # made from the sentinels (kombu's sentinel://)
            "GATEWAY_SWEEP_S": "1",
            "OUTBOUND_FETCH_ALLOW": stand_in.url.split("://", 1)[1],
        },
    )
    queue = QueueFactory(name="Faults", offer_timeout_s=300)
    inbox = InboxFactory(key="faults", kind="web", default_queue=queue)
    users = {name: UserFactory(username=f"agent-{name}", role=AGENT) for name in ("fast", "slow", "late")}
    for name, capacity in (("fast", 3), ("slow", 2), ("late", CUSTOMERS)):
        AgentProfileFactory(user=users[name], status="offline", queues=[queue], default_capacity=capacity)
    cookies = {name: cookie_for(user) for name, user in users.items()}
    base = cluster.base

    # The Telegram customer: its conversation is made here; only the cluster's worker sends the answers
    # (beat's sweep hands it the due conversations every second).
    InboxFactory(
        kind="telegram",
        key="tg-ha",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "7:B", "secret_token": "s"},
    )
    client.post(
        "/gateway/telegram/tg-ha/",
        tg_update(1, 1, "hi", datetime.now(UTC)),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
    )
    telegram = Conversation.objects.get(inbox__key="tg-ha")
    monkeypatch.setattr("gateway.tasks.outbox_drain_later", lambda conversation_id: None)
    answers = [f"answer {n}" for n in range(ANSWERS)]

    def write_answers() -> None:
        for text in answers:
            message_send(conversation_id=telegram.pk, sender_kind="agent", sender_user_id=users["fast"].pk, text=text)
            time.sleep(0.25)

    killed: dict[str, float] = {}
    after_kill: set[str] = set()
    delivered_again: list[float] = []

    class Watching(Agent):
        """An agent console noting when a customer's message written after the kill first reaches it on a
        socket opened after the kill (the old ones were reset; until Redis is back, a process still
        delivers between its own sockets, which says nothing about the failover)."""

        connections_at_kill = 0

        def on_message(self, message: dict, now: float) -> None:
            if (
                not delivered_again
                and message.get("text") in after_kill
                and self.connections > self.connections_at_kill
            ):
                delivered_again.append(time.perf_counter())
            super().on_message(message, now)

    async def scenario():
        fast = Watching(base, cookies["fast"], reply_every=8)
        slow = Watching(base, cookies["slow"], accepting=False, reply_every=8)
        late = Watching(base, cookies["late"], reply_every=8)
        await asyncio.gather(fast.open(timeout=30), slow.open(timeout=30))
        tokens = await widget_tokens(base, inbox.key, CUSTOMERS)
        customers = [Customer(base, token) for token in tokens]
        await asyncio.gather(*(c.open(timeout=30) for c in customers))
        for n, customer in enumerate(customers):  # one at a time, so the queue's order is known
            await customer.send(f"c{n} hello")
            await until(
                lambda n=n: WorkItem.objects.filter(queue=queue).count() == n + 1, 20, f"conversation {n} queued"
            )
        await until(
            lambda: work_states(queue) == {"waiting": 5, "offered": 2, "assigned": 3}, 20, "3 assigned, 2 offered"
        )
        assert len(slow.offers) == 2 and not slow.conversations
        rebuilds_before = await sync_to_async(AssignmentEvent.objects.filter(detail="rebuild").count)()

        async def write(rounds: int) -> None:
            for step in range(rounds):
                for n, customer in enumerate(customers):
                    text = f"c{n} m{step}"
                    if killed:
                        after_kill.add(text)
                    await customer.send(text)
                await asyncio.sleep(0.15)

        answering = threading.Thread(target=write_answers, name="telegram-answers")
        answering.start()
        writing = asyncio.create_task(write(50))
        await asyncio.sleep(1.5)
        offers_before = slow.frame_counts["offer"]
        reconnects_before = sum(p.reconnects for p in [fast, slow, *customers])
        for agent in (fast, slow):
            agent.connections_at_kill = agent.connections
        killed["at"] = time.perf_counter()
        primary.kill()
        # The sentinels agree the primary is down and promote the replica.
        await until(
            lambda: all(s.primary() == ("127.0.0.1", replica.port) for s in sentinels), 20, "the replica promoted"
        )
        promoted_s = time.perf_counter() - killed["at"]
        assert info(replica.port)["role"] == "master"
        # Nobody runs a command: routing sees a primary its state was not built on and rebuilds from
        # MySQL; the slow agent's two offers are withdrawn and made again.
        await until(
            lambda: (
                AssignmentEvent.objects.filter(detail="rebuild").count() == rebuilds_before + 2
                and Offer.objects.filter(status=OfferStatus.OPEN).count() == 2
            ),
            30,
            "the routing state rebuilt and the offers made again",
        )
        await until(lambda: slow.frame_counts["offer"] >= offers_before + 2, 20, "the new offers on the console")
        slow.accepting = True
        for offer_id in list(slow.offers):
            slow.accept(offer_id)
        late.start()
        await until(
            lambda: work_states(queue) == {"waiting": 0, "offered": 0, "assigned": CUSTOMERS}, 30, "all assigned"
        )
        await writing
        await asyncio.to_thread(answering.join)
        peers = [fast, slow, late, *customers]
        shares = ((fast, 3), (slow, 2), (late, CUSTOMERS - 5))
        await until(lambda: all(len(a.conversations) == n for a, n in shares), 20, "every console up to date")
        await settle(peers, timeout=40)
        await close_all(peers)
        reconnects_after = sum(p.reconnects for p in [fast, slow, *customers])
        return [fast, slow, late], customers, promoted_s, reconnects_after - reconnects_before

    try:
        agents, customers, promoted_s, reconnects = asyncio.run(scenario())
        wait_for(
            lambda: OutboxItem.objects.filter(state="sent").count() == ANSWERS,
            30,
            f"every answer sent ({OutboxItem.objects.filter(state='sent').count()} sent)",
        )
        time.sleep(1.5)  # another sweep: nothing goes twice
    finally:
        stand_in.close()

    assert delivered_again, "no message written after the kill reached an agent"
    recovery_s = delivered_again[0] - killed["at"]
    print(f"\nRedis failover: replica promoted {promoted_s:.1f} s after the kill;", end=" ")
    print(f"first message delivered again {recovery_s:.1f} s after it")
    record_property("promoted_s", round(promoted_s, 2))
    record_property("delivered_again_s", round(recovery_s, 2))

    # Every process followed the new primary without a restart.
    assert all(alive(p.pid) for p in [*cluster.daphne_procs, *cluster.other_procs]), "a process died"
    names = redis.Redis(port=replica.port, decode_responses=True).client_list()
    layers = {c["name"] for c in names if c["name"].startswith("sb-layer-")}
    assert len(layers) >= 2, f"both daphne processes' channel layers are on the new primary: {layers}"
    assert reconnects > 0, "the sockets were reset and resumed"
    # The routing state is whole on the new primary, built for it.
    check_messages(agents, customers)
    holders = check_holding(agents)
    web = Conversation.objects.filter(inbox__key="faults").values_list("pk", flat=True)
    assert sorted(holders) == sorted(web), "a conversation lost"
    assert {a.user_id: len(a.conversations) for a in agents} == {
        users["fast"].pk: 3,
        users["slow"].pk: 2,
        users["late"].pk: CUSTOMERS - 5,
    }
    assert not Offer.objects.filter(status=OfferStatus.OPEN).exists()
    assert WorkItem.objects.filter(queue=queue, status=WorkStatus.ASSIGNED).count() == CUSTOMERS
    # The platform got every answer once, in order.
    platform = [r.json()["text"] for r in stand_in.requests]
    assert Counter(platform) == Counter(answers), "an answer sent twice or never"
    assert [r.json()["text"] for r in stand_in.accepted] == answers
