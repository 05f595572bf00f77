"""Reports through the integrator API: the supervisor dashboard's figures and CSV export, its scope (a
supervisor's teams only, agents refused), filters checked by the page's own form."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from api.serializers_resources import ReportRowSerializer
from imsubsystem.models import ConversationStatus as S
from supervisor.reports import REPORT_COLUMNS
from tests.api import scene
from tests.api.scene import BASE, api_for, error_of, revoked_api_for
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db
teams = scene.teams


@pytest.fixture
def history(teams):
    """Today: two conversations in Sales (one answered after 30 s by ag-a, one abandoned), one in Support."""
    now = timezone.now().replace(microsecond=0)
    start = max(timezone.localtime(now).replace(hour=0, minute=0, second=0), now - timedelta(hours=1))
    ConversationFactory(
        inbox=teams["sales_inbox"],
        contact=ContactFactory(),
        status=S.CLOSED,
        first_queued_at=start,
        queued_at=start,
        assigned_at=start + timedelta(seconds=30),
        first_agent_reply_at=start + timedelta(seconds=40),
        closed_at=start + timedelta(seconds=300),
        assignee=teams["ag_a"],
    )
    ConversationFactory(
        inbox=teams["sales_inbox"],
        contact=ContactFactory(),
        status=S.CLOSED,
        first_queued_at=start,
        queued_at=start,
        closed_at=start + timedelta(seconds=90),
    )
    ConversationFactory(
        inbox=teams["support_inbox"],
        contact=ContactFactory(),
        status=S.QUEUED,
        first_queued_at=start,
        queued_at=start,
    )
    return timezone.localdate(start)


def test_the_report_rows_have_the_csv_columns():
    assert list(ReportRowSerializer().fields)[3:] == [key for key, _ in REPORT_COLUMNS]


def test_a_supervisor_gets_their_teams_figures_as_json(teams, history):
    response = api_for(teams["sup_a"], "read").get(f"{BASE}/reports/queue", {"from": history, "to": history})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kind"], body["period"], body["start"], body["end"]) == ("queue", "day", str(history), str(history))
    (row,) = body["rows"]
    assert (row["id"], row["name"], row["volume"], row["answered"], row["abandoned"]) == (
        teams["sales"].pk,
        "Sales",
        2,
        1,
        1,
    )
    assert row["average_wait_s"] == 30.0
    # Per agent: the agents of the supervisor's teams.
    rows = api_for(teams["sup_a"], "read").get(f"{BASE}/reports/agent", {"from": history}).json()["rows"]
    assert [(r["id"], r["volume"]) for r in rows] == [(teams["ag_a"].pk, 1)]
    # The other team's supervisor sees only theirs; an admin both.
    rows = api_for(teams["sup_b"], "read").get(f"{BASE}/reports/queue", {"from": history}).json()["rows"]
    assert [r["name"] for r in rows] == ["Support"]
    rows = api_for(teams["admin"], "read").get(f"{BASE}/reports/queue", {"from": history}).json()["rows"]
    assert sorted(r["name"] for r in rows) == ["Sales", "Support"]


@pytest.mark.parametrize("kind", ["queue", "agent"])
@pytest.mark.parametrize("how", ["format", "accept"])
def test_the_csv_is_the_dashboards_export(teams, history, kind, how):
    dashboard = Client()
    dashboard.force_login(teams["admin"])
    expected = dashboard.get(
        "/supervisor/reports.csv", {"start": history, "end": history, "dimension": kind, "period": "hour"}
    )
    assert expected.status_code == 200
    api = api_for(teams["admin"], "read")
    params = {"from": history, "to": history, "period": "hour"}
    if how == "format":
        response = api.get(f"{BASE}/reports/{kind}", {**params, "format": "csv"})
    else:
        response = api.get(f"{BASE}/reports/{kind}", params, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content == expected.content
    assert response["Content-Disposition"] == expected["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["period_start", f"{kind}_id", kind] and len(rows) > 1


def test_agents_are_refused_as_on_the_dashboard(teams, history):
    for params in ({}, {"format": "csv"}):
        error = error_of(api_for(teams["ag_a"], "read").get(f"{BASE}/reports/queue", params), 403)
        assert error["code"] == "forbidden"
    response = api_for(teams["ag_a"], "read").get(f"{BASE}/reports/queue", HTTP_ACCEPT="text/csv")
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    error_of(revoked_api_for(teams["sup_a"]).get(f"{BASE}/reports/queue"), 401)


def test_another_teams_queue_or_team_is_not_found(teams, history):
    api = api_for(teams["sup_a"], "read")
    assert error_of(api.get(f"{BASE}/reports/queue", {"queue": teams["support"].pk}), 404)["code"] == "not_found"
    error_of(api.get(f"{BASE}/reports/queue", {"team": teams["team_b"].pk}), 404)
    error_of(api.get(f"{BASE}/reports/queue", {"team": teams["team_b"].pk, "format": "csv"}), 404)
    error_of(api.get(f"{BASE}/reports/queue", {"queue": 999999}), 404)
    # Their own team and queue filter as asked.
    rows = api.get(f"{BASE}/reports/queue", {"team": teams["team_a"].pk, "from": history}).json()["rows"]
    assert [r["name"] for r in rows] == ["Sales"]
    admin = api_for(teams["admin"], "read")
    rows = admin.get(f"{BASE}/reports/queue", {"team": teams["team_b"].pk, "from": history}).json()["rows"]
    assert [r["name"] for r in rows] == ["Support"]
    rows = admin.get(f"{BASE}/reports/queue", {"queue": teams["sales"].pk, "from": history}).json()["rows"]
    assert [r["name"] for r in rows] == ["Sales"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2030-02-31"}, "to"),
        ({"from": "2030-03-10", "to": "2030-03-01"}, "non_field_errors"),
        ({"from": "2029-01-01", "to": "2030-03-01"}, "non_field_errors"),
        ({"from": "2030-01-01", "to": "2030-03-01", "period": "hour"}, "non_field_errors"),
        ({"period": "week"}, "period"),
        ({"queue": "sales"}, "queue"),
        ({"team": "-1"}, "team"),
        ({"team": "0"}, "team"),
        ({"queue": "²"}, "queue"),
        ({"queue": str(2**63)}, "queue"),
    ],
)
def test_bad_filters_are_a_clear_400(teams, params, field):
    for extra in ({}, {"format": "csv"}):
        error = error_of(api_for(teams["admin"], "read").get(f"{BASE}/reports/queue", {**params, **extra}), 400)
        assert error["code"] == "invalid" and field in error["errors"], error


def test_an_unknown_report_is_not_found(teams):
    error_of(api_for(teams["admin"], "read").get(f"{BASE}/reports/fairness"), 404)
    error_of(api_for(teams["admin"], "read").get(f"{BASE}/reports/queue", {"format": "xml"}), 404)


def test_reports_take_no_writes(teams):
    error_of(api_for(teams["admin"]).post_json(f"{BASE}/reports/queue"), 405)
    error_of(api_for(teams["admin"], "read").post_json(f"{BASE}/reports/queue"), 403)
