"""A daphne process killed with customers and an agent mid-conversation, behind nginx.

Two daphne processes serve one nginx; twenty customers write and an agent answers. One process gets
SIGKILL in the middle. Clients whose socket died reconnect through nginx (to the survivor), resend what
was not acknowledged with the same client_id, and resume from their last seq. Afterwards every
acknowledged message is in MySQL exactly once, and every customer's screen holds exactly what MySQL holds.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from django.test import Client

from crm.roles import AGENT
from switchboard_client import Agent, Customer, close_all, settle, widget_tokens
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import check_messages

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 20


def test_a_killed_daphne_loses_and_doubles_nothing(start_cluster):
    cluster = start_cluster(daphnes=2)
    queue = QueueFactory(name="Faults", offer_timeout_s=60)
    inbox = InboxFactory(key="faults", kind="web", default_queue=queue)
    agent = UserFactory(username="fault-agent", role=AGENT)
    AgentProfileFactory(user=agent, status="offline", queues=[queue], default_capacity=CUSTOMERS + 5)
    web = Client()
    web.force_login(agent)
    cookie = f"sessionid={web.cookies['sessionid'].value}"
    base = cluster.base

    async def scenario():
        tokens = await widget_tokens(base, inbox.key, CUSTOMERS)
        agent_peer = Agent(base, cookie, reply_every=8)
        customers = [Customer(base, token) for token in tokens]
        peers = [agent_peer, *customers]
        await asyncio.gather(*(p.open(timeout=30) for p in peers))
        for step in range(40):
            for n, customer in enumerate(customers):
                await customer.send(f"c{n} m{step}")
            if step == 15:
                cluster.daphne_procs[0].send_signal(signal.SIGKILL)
            await asyncio.sleep(0.05)
        # Everything acknowledged, agent answers included, within a bound; then every screen caught up.
        await settle(peers, timeout=60)
        await close_all(peers)
        return agent_peer, customers

    agent_peer, customers = asyncio.run(scenario())

    assert cluster.daphne_procs[0].poll() is not None, "the first daphne process was killed"
    assert sum(c.reconnects for c in [agent_peer, *customers]) > 0, "some clients lost their socket"
    rows = check_messages([agent_peer], customers, agent_screens=False)
    assert any(r["client_id"] in agent_peer.acked for r in rows), (agent_peer.reconnects, agent_peer.frame_counts)
