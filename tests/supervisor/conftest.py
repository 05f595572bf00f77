"""Supervisor fixtures: two teams, each with its own queue, supervisor and agent."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from crm.roles import AGENT, SUPERVISOR
from routing.models import AgentStatus
from supervisor.models import Team
from tests.browser.conftest import browser, live_server_url, new_context  # noqa: F401 - reused fixtures
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Snapshots and scopes are cached for a second or so; each test starts without them.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def teams(db):
    """Team A (queue Sales, supervisor sup-a, agent ag-a) and team B (queue Support, sup-b, ag-b)."""
    sales = QueueFactory(name="Sales", service_level_threshold_s=60)
    support = QueueFactory(name="Support", service_level_threshold_s=60)
    sup_a = UserFactory(username="sup-a", role=SUPERVISOR)
    sup_b = UserFactory(username="sup-b", role=SUPERVISOR)
    ag_a = UserFactory(username="ag-a", role=AGENT)
    ag_b = UserFactory(username="ag-b", role=AGENT)
    AgentProfileFactory(user=ag_a, status=AgentStatus.AVAILABLE, queues=[sales])
    AgentProfileFactory(user=ag_b, status=AgentStatus.AVAILABLE, queues=[support])
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
