"""A rolling restart under load: every daphne process and the Celery worker stopped (SIGTERM) and started
again, one after the other, while customers and agents write.

Two daphne processes serve one nginx; a Celery worker with beat inside it runs routing. Sixteen
customers write to two agents, who answer; four more customers arrive during the restarts and are
offered to an agent then. Each daphne process in turn gets SIGTERM: it stops listening, closes its
sockets with 4012 and lets the frames in hand finish (config/daphne_drain.py), exits 0 and is started
again; the next waits until it answers `/healthz/ready`. Then the worker gets SIGTERM (Celery's warm
shutdown: it ends its current task) and is started again. The clients reconnect through nginx to the
other process, send again with the same client_id what was not acknowledged, and resume from their last
seq. Afterwards every acknowledged message is in MySQL exactly once, every screen equals MySQL, no
customer saw an error frame, every conversation was offered once and is held by exactly one agent.

A second test stops the worker while it is in a platform send: the send is finished and stored once, the
worker exits 0, and its successor sends the rest, each once (acks are late: CELERY_TASK_ACKS_LATE).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter

import httpx
import pytest
from django.conf import settings
from django.test import Client

from crm.roles import AGENT
from switchboard_client import Agent, Customer, close_all, settle, widget_tokens
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import alive, check_holding, check_messages, stop_and_wait

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 16
LATE = 4  # customers whose first message arrives during the restarts


def cookie_for(user) -> str:
    web = Client()
    web.force_login(user)
    return f"sessionid={web.cookies['sessionid'].value}"


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def ready(port: int, timeout: float = 30) -> None:
    """The restarted process answers /healthz/ready, and nginx takes it back: nginx marks a process
    whose port refused a connection as failed (max_fails=1 fail_timeout=2s, deploy/nginx_conf.py) and
    clears the mark only when a request to it has ended, which a WebSocket does not for hours; the
    health poller's short requests through nginx do it once the 2 s are over."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"daphne on {port} never ready")
        time.sleep(0.2)
    time.sleep(4)


async def poll(url: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await http.get(url)
            await asyncio.sleep(0.2)


def test_every_process_restarted_in_turn_under_load_loses_and_doubles_nothing(start_cluster):
    from routing.models import Offer

    cluster = start_cluster(daphnes=2, celery=True)
    queue = QueueFactory(name="Rolling", offer_timeout_s=60)
    inbox = InboxFactory(key="rolling", kind="web", default_queue=queue)
    users = [UserFactory(username=f"rolling-agent-{n}", role=AGENT) for n in range(2)]
    for user in users:
        AgentProfileFactory(user=user, status="offline", queues=[queue], default_capacity=(CUSTOMERS + LATE) // 2 + 2)
    cookies = [cookie_for(user) for user in users]
    base = cluster.base
    restarts: dict[str, object] = {}

    def roll() -> None:
        for index, port in enumerate(cluster.ports):
            old = cluster.daphne_procs[index]
            restarts[f"daphne-{port}"] = (cluster.daphne_restart(index), old.pid)
            ready(port)
        old = cluster.other_procs[0]
        restarts["celery"] = (cluster.celery_restart(), old.pid)

    async def scenario():
        agents = [Agent(base, cookie, reply_every=3) for cookie in cookies]
        await asyncio.gather(*(a.open(timeout=30) for a in agents))
        tokens = await widget_tokens(base, inbox.key, CUSTOMERS + LATE)
        customers = [Customer(base, token) for token in tokens[:CUSTOMERS]]
        late = [Customer(base, token) for token in tokens[CUSTOMERS:]]
        await asyncio.gather(*(c.open(timeout=30) for c in customers))
        for n, customer in enumerate(customers):
            await customer.send(f"c{n} hello")
        held = lambda: sum(len(a.conversations) for a in agents)  # noqa: E731
        await until(lambda: held() == CUSTOMERS, 30, "every conversation with an agent")

        # A load balancer's probe through nginx: short HTTP requests, as a live site always has.
        polling = asyncio.create_task(poll(f"{base}/healthz/live"))
        rolling = asyncio.create_task(asyncio.to_thread(roll))
        step = 0
        while not rolling.done() or step < 10:
            for n, customer in enumerate(customers):
                await customer.send(f"c{n} m{step}")
            if step == 5:  # while the first process restarts
                for n, customer in enumerate(late):
                    customer.start()
                    customer.queue_text(f"late{n} hello")
            if step > 5:
                for n, customer in enumerate(late):
                    if customer.ready.is_set():
                        await customer.send(f"late{n} m{step}")
            step += 1
            await asyncio.sleep(0.5)  # well under the customers' sustained rate (5/s): no rate_limited
        await rolling
        polling.cancel()
        everyone = [*customers, *late]
        await until(lambda: held() == CUSTOMERS + LATE, 30, "the late conversations with an agent")
        peers = [*agents, *everyone]
        await settle(peers, timeout=60)
        await close_all(peers)
        return agents, everyone, step

    agents, customers, steps = asyncio.run(scenario())

    for name, (returncode, pid) in restarts.items():
        assert returncode == 0, f"{name} exited {returncode}"
        assert not alive(pid), name
    for port in cluster.ports:
        log = (cluster.workdir / f"daphne-{port}.log").read_text()
        assert "Drained in" in log and "still open" not in log, log[-3000:]
    celery_log = (cluster.workdir / "celery.log").read_text()
    assert "Warm shutdown" in celery_log, celery_log[-3000:]
    assert sum(p.reconnects for p in [*agents, *customers]) >= len(agents), "the restarts moved sockets"
    errors = [(n, c.frame_counts["error"], c.rate_limited, c.half_open) for n, c in enumerate(customers)]
    assert [e for e in errors if e[1]] == [], "a customer saw an error frame"
    rows = check_messages(agents, customers)
    assert all(any(r["client_id"] in a.acked for r in rows) for a in agents), "both agents' answers are stored"
    holders = check_holding(agents)
    assert len(holders) == CUSTOMERS + LATE
    offers = Counter(Offer.objects.values_list("ref", flat=True))
    assert set(offers) == set(holders), offers
    assert all(n == 1 for n in offers.values()), f"a conversation offered twice: {offers}"
    connections = sum(p.connections for p in [*agents, *customers])
    print(f"\nrolling restart: {steps} steps, {len(rows)} messages, {connections} connections")


def test_a_worker_told_to_stop_finishes_its_send_and_its_successor_sends_the_rest(client, monkeypatch, tmp_path):
    from datetime import UTC, datetime

    from gateway.models import OutboxItem
    from imsubsystem.models import Conversation
    from imsubsystem.services import message_send
    from tests.faults.test_broker_restart import start_worker
    from tests.gateway.conftest import Reply, StandIn
    from tests.gateway.test_webhooks import tg_update

    stand_in = StandIn()
    hung, release = threading.Event(), threading.Event()
    ids = iter(range(1, 1000))
    held_at = 3

    def answer(request):
        if len(stand_in.requests) == held_at:
            hung.set()
            release.wait(30)
        return Reply(200, {"ok": True, "result": {"message_id": next(ids)}})

    stand_in.default = answer
    InboxFactory(
        kind="telegram",
        key="tg-rolling",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "7:R", "secret_token": "s"},
    )
    client.post(
        "/gateway/telegram/tg-rolling/",
        tg_update(1, 1, "hi", datetime.now(UTC)),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
    )
    conversation = Conversation.objects.get()
    agent = UserFactory(username="agent-rolling")
    monkeypatch.setattr("gateway.tasks.outbox_drain_later", lambda conversation_id: None)
    texts = [f"answer {n}" for n in range(10)]
    log = tmp_path / "celery.log"

    def wait_for(condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    worker = start_worker(tmp_path, settings.REDIS_URL, stand_in)
    successor = None
    try:
        for text in texts:
            message_send(conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text=text)
        wait_for(hung.is_set, 60, "the worker to call the platform")
        restarts: list[int] = []
        stopping = threading.Thread(target=lambda: restarts.append(stop_and_wait(worker, 60)))
        stopping.start()
        time.sleep(1.5)
        assert worker.poll() is None, "a worker told to stop waits for its current task"
        release.set()
        stopping.join(60)
        assert restarts == [0], log.read_text()[-3000:]
        assert "Warm shutdown" in log.read_text()
        successor = start_worker(tmp_path, settings.REDIS_URL, stand_in)
        sent = lambda: OutboxItem.objects.filter(state="sent").count()  # noqa: E731
        wait_for(lambda: sent() == len(texts), 60, f"every row sent ({sent()} sent)")
        time.sleep(1.5)  # a second sweep: nothing goes twice
    finally:
        release.set()
        for proc in (worker, successor):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        stand_in.close()

    platform = [r.json()["text"] for r in stand_in.requests]
    assert Counter(platform) == Counter(texts), "a message sent twice or never"
    assert set(OutboxItem.objects.values_list("attempts", flat=True)) == {1}
