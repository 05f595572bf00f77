"""Queues, teams and agents through the integrator API: the console's and the supervisor dashboard's
scope for each role; an agent's presence set only as the dashboard may."""

from __future__ import annotations

import pytest

from routing.models import AgentProfile, AgentStatus
from tests.api import scene
from tests.api.scene import BASE, api_for, error_of, revoked_api_for
from tests.factories import AgentProfileFactory, ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db
teams = scene.teams


def listed(response, key: str = "id") -> set:
    assert response.status_code == 200, response.content[:500]
    return {item[key] for item in response.json()["results"]}


# --- queues -----------------------------------------------------------------------------------------------
def test_queues_follow_the_consoles_scope(teams):
    sales, support = teams["sales"].pk, teams["support"].pk
    assert listed(api_for(teams["ag_a"], "read").get(f"{BASE}/queues")) == {sales}
    assert listed(api_for(teams["sup_a"], "read").get(f"{BASE}/queues")) == {sales}
    assert listed(api_for(teams["sup_b"], "read").get(f"{BASE}/queues")) == {support}
    assert listed(api_for(teams["admin"], "read").get(f"{BASE}/queues")) >= {sales, support}
    # Another team's queue is not found, for its agents and its supervisor alike.
    error_of(api_for(teams["sup_a"]).get(f"{BASE}/queues/{support}"), 404)
    error_of(api_for(teams["ag_a"]).get(f"{BASE}/queues/{support}"), 404)
    error_of(api_for(teams["admin"]).get(f"{BASE}/queues/999999"), 404)


def test_a_queue_shows_its_figures_now(teams):
    ConversationFactory(inbox=teams["sales_inbox"], status="queued")
    ConversationFactory(inbox=teams["sales_inbox"], status="assigned", assignee=teams["ag_a"])
    body = api_for(teams["sup_a"], "read").get(f"{BASE}/queues/{teams['sales'].pk}").json()
    assert (body["name"], body["waiting"], body["active"]) == ("Sales", 1, 1)
    assert body["policy"] == "least_busy" and body["service_level_threshold_s"] == 60


def test_queues_are_read_only(teams):
    api = api_for(teams["admin"])
    error_of(api.post_json(f"{BASE}/queues", {"name": "New"}), 405)
    error_of(api.patch_json(f"{BASE}/queues/{teams['sales'].pk}", {"name": "X"}), 405)
    error_of(api_for(teams["admin"], "read").post_json(f"{BASE}/queues", {"name": "New"}), 403)


# --- teams ------------------------------------------------------------------------------------------------
def test_teams_are_the_supervisors_and_agents_are_refused(teams):
    a, b = teams["team_a"].pk, teams["team_b"].pk
    assert error_of(api_for(teams["ag_a"], "read").get(f"{BASE}/teams"), 403)["code"] == "forbidden"
    error_of(api_for(teams["ag_a"], "read").get(f"{BASE}/teams/{a}"), 403)
    body = api_for(teams["sup_a"], "read").get(f"{BASE}/teams").json()["results"]
    assert body == [{"id": a, "name": "A", "queues": [teams["sales"].pk], "supervisors": [teams["sup_a"].pk]}]
    error_of(api_for(teams["sup_a"], "read").get(f"{BASE}/teams/{b}"), 404)
    assert listed(api_for(teams["admin"], "read").get(f"{BASE}/teams")) == {a, b}
    error_of(revoked_api_for(teams["admin"]).get(f"{BASE}/teams"), 401)


# --- agents -----------------------------------------------------------------------------------------------
def test_agents_follow_the_dashboards_scope(teams):
    ag_a, ag_b = teams["ag_a"].pk, teams["ag_b"].pk
    # An agent sees only themselves (the console shows them their own presence).
    assert listed(api_for(teams["ag_a"], "read").get(f"{BASE}/agents")) == {ag_a}
    error_of(api_for(teams["ag_a"], "read").get(f"{BASE}/agents/{ag_b}"), 404)
    # A supervisor sees the agents of their teams' queues, never another team's.
    assert listed(api_for(teams["sup_a"], "read").get(f"{BASE}/agents")) == {ag_a}
    error_of(api_for(teams["sup_a"], "read").get(f"{BASE}/agents/{ag_b}"), 404)
    assert listed(api_for(teams["admin"], "read").get(f"{BASE}/agents")) == {ag_a, ag_b}
    error_of(api_for(teams["admin"]).get(f"{BASE}/agents/999999"), 404)
    error_of(revoked_api_for(teams["sup_a"]).get(f"{BASE}/agents"), 401)


def test_an_agent_shows_presence_capacity_and_load(teams):
    AgentProfile.objects.filter(user=teams["ag_a"]).update(capacity={"whatsapp": 1}, default_capacity=4)
    body = api_for(teams["sup_a"], "read").get(f"{BASE}/agents/{teams['ag_a'].pk}").json()
    assert body["username"] == "ag-a" and body["status"] == "available" and body["queue_ids"] == [teams["sales"].pk]
    assert body["presence"] in ("available", "disconnected")
    assert body["capacity"]["whatsapp"] == 1 and body["capacity"]["web"] == 4 and body["default_capacity"] == 4
    assert body["load"] == 0 and body["load_by_kind"] == {}


def test_an_agent_serving_two_teams_shows_only_the_callers_queues(teams):
    both = UserFactory(username="ag-both")
    AgentProfileFactory(user=both, queues=[teams["sales"], teams["support"]])
    body = api_for(teams["sup_a"], "read").get(f"{BASE}/agents/{both.pk}").json()
    assert body["queue_ids"] == [teams["sales"].pk]


def test_a_supervisor_sets_presence_of_their_teams_agents_only(teams):
    sup_a = api_for(teams["sup_a"])
    response = sup_a.post_json(f"{BASE}/agents/{teams['ag_a'].pk}/presence", {"status": "away"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "away"
    assert AgentProfile.objects.get(user=teams["ag_a"]).status == AgentStatus.AWAY
    # Another team's agent: not found, unchanged.
    error_of(sup_a.post_json(f"{BASE}/agents/{teams['ag_b'].pk}/presence", {"status": "offline"}), 404)
    assert AgentProfile.objects.get(user=teams["ag_b"]).status == AgentStatus.AVAILABLE
    # An admin sets anyone's.
    admin = api_for(teams["admin"])
    assert admin.post_json(f"{BASE}/agents/{teams['ag_b'].pk}/presence", {"status": "offline"}).status_code == 200
    assert AgentProfile.objects.get(user=teams["ag_b"]).status == AgentStatus.OFFLINE


def test_presence_refusals_change_nothing(teams):
    url = f"{BASE}/agents/{teams['ag_a'].pk}/presence"
    # The dashboard's action: an agent may not use it, even on themselves.
    assert error_of(api_for(teams["ag_a"]).post_json(url, {"status": "away"}), 403)["code"] == "forbidden"
    assert error_of(api_for(teams["sup_a"], "read").post_json(url, {"status": "away"}), 403)["code"] == "forbidden"
    error_of(revoked_api_for(teams["sup_a"]).post_json(url, {"status": "away"}), 401)
    error = error_of(api_for(teams["sup_a"]).post_json(url, {"status": "sleeping"}), 400)
    assert error["code"] == "invalid" and "status" in error["errors"]
    error_of(api_for(teams["sup_a"]).post_json(url, {}), 400)
    error_of(api_for(teams["sup_a"]).post_json(f"{BASE}/agents/999999/presence", {"status": "away"}), 404)
    assert AgentProfile.objects.get(user=teams["ag_a"]).status == AgentStatus.AVAILABLE
