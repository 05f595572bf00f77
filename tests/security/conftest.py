"""Security fixtures: two teams (each a queue, a supervisor and an agent), real processes for the socket
tests (tests/faults/conftest.py's cluster), and helpers to read what a socket was sent."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.roles import AGENT, SUPERVISOR
from routing.models import AgentStatus
from supervisor.models import Team
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.conftest import start_cluster  # noqa: F401 - reused fixture


@pytest.fixture
def teams(db):
    """Team A (queue Sales, supervisor sup-a, agent ag-a) and team B (queue Support, sup-b, ag-b), a web
    inbox for each queue."""
    sales = QueueFactory(name="Sales")
    support = QueueFactory(name="Support")
    sup_a = UserFactory(username="sup-a", role=SUPERVISOR)
    sup_b = UserFactory(username="sup-b", role=SUPERVISOR)
    ag_a = UserFactory(username="ag-a", role=AGENT)
    ag_b = UserFactory(username="ag-b", role=AGENT)
    AgentProfileFactory(user=ag_a, status=AgentStatus.OFFLINE, queues=[sales])
    AgentProfileFactory(user=ag_b, status=AgentStatus.OFFLINE, queues=[support])
    team_a = Team.objects.create(name="A")
    team_a.supervisors.set([sup_a])
    team_a.queues.set([sales])
    team_b = Team.objects.create(name="B")
    team_b.supervisors.set([sup_b])
    team_b.queues.set([support])
    return {
        "sales": sales,
        "support": support,
        "sup_a": sup_a,
        "sup_b": sup_b,
        "ag_a": ag_a,
        "ag_b": ag_b,
        "sales_inbox": InboxFactory(key="sales-web", kind="web", default_queue=sales),
        "support_inbox": InboxFactory(key="support-web", kind="web", default_queue=support),
    }


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def mentions(frame: dict, conversation_id: int) -> bool:
    """Does a server frame carry anything of this conversation?"""
    if frame.get("conversation_id") == conversation_id:
        return True
    message, conversation = frame.get("message"), frame.get("conversation")
    if isinstance(message, dict) and message.get("conversation_id") == conversation_id:
        return True
    if isinstance(conversation, dict) and conversation.get("id") == conversation_id:
        return True
    listed = frame.get("conversations")
    return isinstance(listed, list) and any(isinstance(c, dict) and c.get("id") == conversation_id for c in listed)
