"""MySQL killed and started again under load, behind nginx, with a Celery worker routing.

The system (two daphne processes behind nginx, a Celery worker with beat) runs on a MariaDB server of the
test's own (tests/faults/support.py, MariaDbServer), so the machine's shared MariaDB is left alone.
Twelve customers are in conversations with an agent and write; the agent answers. MariaDB gets SIGKILL
and comes back a second later on the same datadir (InnoDB's crash recovery). A message that could not be
stored is never acknowledged: the socket closes (4012) and the client reconnects and sends it again with
the same client_id. Then four new customers write: the Celery worker, on its connections of before the
crash, routes them to the agent. Afterwards every acknowledged message is in MySQL exactly once, every
screen holds what MySQL holds, and every conversation is held by exactly one agent.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from django.db import connection
from django.test import Client

from crm.roles import AGENT
from switchboard_client import Agent, Customer, close_all, settle, widget_tokens
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import check_holding, check_messages

pytestmark = [pytest.mark.slow]

CUSTOMERS = 12
LATE = 4


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def test_mysql_restarted_under_load_loses_and_doubles_nothing(own_mariadb, start_cluster):
    cluster = start_cluster(daphnes=2, celery=True)
    queue = QueueFactory(name="Faults", offer_timeout_s=60)
    inbox = InboxFactory(key="faults", kind="web", default_queue=queue)
    user = UserFactory(username="fault-agent", role=AGENT)
    AgentProfileFactory(user=user, status="offline", queues=[queue], default_capacity=CUSTOMERS + LATE)
    web = Client()
    web.force_login(user)
    cookie = f"sessionid={web.cookies['sessionid'].value}"
    base = cluster.base
    outage: dict[str, float] = {}

    async def scenario():
        agent = Agent(base, cookie, reply_every=6)
        await agent.open(timeout=30)
        tokens = await widget_tokens(base, inbox.key, CUSTOMERS + LATE)
        customers = [Customer(base, token) for token in tokens[:CUSTOMERS]]
        late = [Customer(base, token) for token in tokens[CUSTOMERS:]]
        await asyncio.gather(*(c.open(timeout=30) for c in customers))
        for n, customer in enumerate(customers):
            await customer.send(f"c{n} hello")
        await until(lambda: len(agent.conversations) == CUSTOMERS, 45, "every conversation with the agent")
        for step in range(30):
            for n, customer in enumerate(customers):
                await customer.send(f"c{n} m{step}")
            if step == 8:
                own_mariadb.kill()
                outage["killed"] = time.monotonic()
            if step == 20:
                await asyncio.to_thread(own_mariadb.start)
                outage["back"] = time.monotonic()
            await asyncio.sleep(0.1)
        # New conversations after the restart: routed by the Celery worker.
        await asyncio.gather(*(c.open(timeout=30) for c in late))
        for n, customer in enumerate(late):
            await customer.send(f"late{n} hello")
        await until(lambda: len(agent.conversations) == CUSTOMERS + LATE, 40, "the new conversations routed")
        peers = [agent, *customers, *late]
        await settle(peers, timeout=40)
        await close_all(peers)
        return agent, [*customers, *late]

    agent, customers = asyncio.run(scenario())
    connection.close()  # this process's connection died with the server

    assert outage["back"] - outage["killed"] > 0.5, outage
    # No `internal` error (a client gives its message up) and nothing left unacknowledged: the sockets
    # whose messages could not be stored were closed, and their clients sent them again.
    rows = check_messages([agent], customers)
    assert sum(p.reconnects for p in [agent, *customers]) > 0, "the clients were told (their sockets closed)"
    assert any(r["client_id"] in agent.acked for r in rows), "the agent's answers are stored"
    holders = check_holding([agent])
    assert len(holders) == CUSTOMERS + LATE and set(holders.values()) == {user.pk}
