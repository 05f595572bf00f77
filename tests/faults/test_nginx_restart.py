"""nginx killed and started again under load, in front of two daphne processes.

Sixteen customers write to two agents, who answer, through nginx. nginx (master and worker) gets SIGKILL
in the middle: every socket dies at once, and for a second nothing listens at all (the clients' attempts
are refused). nginx starts again on the same port; the clients reconnect, send again with the same
client_id what was not acknowledged, and resume from their last seq. Afterwards every acknowledged
message is in MySQL exactly once, every customer's and agent's screen equals MySQL, and every
conversation is held by exactly one agent.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import Client

from crm.roles import AGENT
from switchboard_client import Agent, Customer, close_all, settle, widget_tokens
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import alive, check_holding, check_messages

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 16


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


def test_nginx_restarted_under_load_loses_and_doubles_nothing(start_cluster):
    cluster = start_cluster(daphnes=2)
    queue = QueueFactory(name="Faults", offer_timeout_s=60)
    inbox = InboxFactory(key="faults", kind="web", default_queue=queue)
    users = [UserFactory(username=f"fault-agent-{n}", role=AGENT) for n in range(2)]
    for user in users:
        AgentProfileFactory(user=user, status="offline", queues=[queue], default_capacity=CUSTOMERS // 2)
    cookies = [cookie_for(user) for user in users]
    base = cluster.base
    outage: dict[str, object] = {}

    async def scenario():
        agents = [Agent(base, cookie, reply_every=5) for cookie in cookies]
        await asyncio.gather(*(a.open(timeout=30) for a in agents))
        tokens = await widget_tokens(base, inbox.key, CUSTOMERS)
        customers = [Customer(base, token) for token in tokens]
        await asyncio.gather(*(c.open(timeout=30) for c in customers))
        for n, customer in enumerate(customers):
            await customer.send(f"c{n} hello")
        held = lambda: sum(len(a.conversations) for a in agents)  # noqa: E731
        await until(lambda: held() == CUSTOMERS, 30, "every conversation with an agent")
        for step in range(30):
            for n, customer in enumerate(customers):
                await customer.send(f"c{n} m{step}")
            if step == 8:
                master = int((cluster.workdir / "nginx.pid").read_text())
                await asyncio.to_thread(cluster.nginx_kill)
                outage["killed"], outage["master"] = time.monotonic(), master
            if step == 18:
                await asyncio.to_thread(cluster.nginx_start)
                outage["back"] = time.monotonic()
            await asyncio.sleep(0.1)
        peers = [*agents, *customers]
        await settle(peers, timeout=40)
        await close_all(peers)
        return agents, customers

    agents, customers = asyncio.run(scenario())

    assert not alive(outage["master"]), "the first nginx was killed"
    assert outage["back"] - outage["killed"] > 0.5, outage
    assert all(p.reconnects for p in [*agents, *customers]), "every client lost its socket"
    rows = check_messages(agents, customers)
    assert all(any(r["client_id"] in a.acked for r in rows) for a in agents), "both agents' answers are stored"
    holders = check_holding(agents)
    assert len(holders) == CUSTOMERS and sorted(holders.values()) == sorted([u.pk for u in users] * (CUSTOMERS // 2))
