"""A scene for the resource endpoints' permission tests: two teams, each with its own queue, supervisor and
agent (as tests/supervisor/conftest.py), an admin, and an API client of each scope for each of them.

Imported by the test modules that use it (`from tests.api.scene import teams  # noqa: F401`)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api.tokens import token_create, token_revoke
from crm.roles import ADMIN, AGENT, SUPERVISOR
from routing.models import AgentStatus
from supervisor.models import Team
from tests.api.conftest import BearerClient
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory

BASE = "/api/rest/v1"


def api_for(user, scope: str = "write") -> BearerClient:
    _token, key = token_create(user=user, name=f"{user.username}-{scope}", scope=scope)
    return BearerClient(key)


def revoked_api_for(user) -> BearerClient:
    token, key = token_create(user=user, name="revoked", scope="write")
    token_revoke(token=token)
    return BearerClient(key)


def error_of(response, status: int) -> dict:
    """The one error shape, with this status."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"} and {"code", "detail"} <= set(body["error"]), body
    return body["error"]


@pytest.fixture
def teams(db):
    """Team A (queue Sales, supervisor sup-a, agent ag-a), team B (queue Support, sup-b, ag-b), an admin."""
    cache.clear()
    sales = QueueFactory(name="Sales", service_level_threshold_s=60)
    support = QueueFactory(name="Support", service_level_threshold_s=60)
    sup_a = UserFactory(username="sup-a", role=SUPERVISOR)
    sup_b = UserFactory(username="sup-b", role=SUPERVISOR)
    ag_a = UserFactory(username="ag-a", role=AGENT)
    ag_b = UserFactory(username="ag-b", role=AGENT)
    admin = UserFactory(username="boss", role=ADMIN)
    AgentProfileFactory(user=ag_a, status=AgentStatus.AVAILABLE, queues=[sales])
    AgentProfileFactory(user=ag_b, status=AgentStatus.AVAILABLE, queues=[support])
    team_a = Team.objects.create(name="A")
    team_a.supervisors.set([sup_a])
    team_a.queues.set([sales])
    team_b = Team.objects.create(name="B")
    team_b.supervisors.set([sup_b])
    team_b.queues.set([support])
    yield {
        "sales": sales,
        "support": support,
        "team_a": team_a,
        "team_b": team_b,
        "sup_a": sup_a,
        "sup_b": sup_b,
        "ag_a": ag_a,
        "ag_b": ag_b,
        "admin": admin,
        "sales_inbox": InboxFactory(key="sales-web", kind="web", default_queue=sales),
        "support_inbox": InboxFactory(key="support-web", kind="web", default_queue=support),
    }
    cache.clear()
