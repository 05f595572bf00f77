"""The rule of the reads that may lag (core/replica.py) on the normal test database: the `replica` alias is
a second connection to the same database, as Django's TEST MIRROR makes it. Reports, their CSV export and
the staffing plan read the replica; every other read, every write and every migration goes to the
primary; a replica that does not answer sends the reports to the primary, logged once and counted; the
dashboard says how far behind the replica is. tests/faults/test_mysql_replica.py runs the same against a
real replica."""

from __future__ import annotations

import contextlib
import copy
import logging
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import replica as replica_module
from core.metrics import REPLICA_FALLBACK_READS
from core.replica import HEALTH, REPLICA, ReplicaRouter, may_lag, reads_that_may_lag, replica_alias
from imsubsystem.models import Conversation
from supervisor import stats
from supervisor.models import ReplicaHeartbeat, Team
from supervisor.replica import heartbeat_write, replica_status
from tests.factories import ConversationFactory
from tests.faults.support import free_port

# Committed writes (no test transaction): the replica's connection sees them, and closing it closes it.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup, django_db_blocker):
    """A `replica` alias on the test database for this module's tests (defined before each test's database
    fixture, which must know it); a connection of its own, so it sees only what is committed."""
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "MIRROR": "default"}
    connections.settings[REPLICA] = settings_dict
    yield settings_dict
    with django_db_blocker.unblock():
        connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


def _repoint(**changes) -> None:
    """Points this thread's replica connection elsewhere (closed first)."""
    connection = connections[REPLICA]
    connection.close()
    connection.settings_dict.update(changes)


@pytest.fixture(autouse=True)
def _replica_healthy(_replica_alias):
    HEALTH.mark_up()
    saved = copy.deepcopy(connections[REPLICA].settings_dict)
    yield
    _repoint(**saved)
    HEALTH.mark_up()


@pytest.fixture
def with_replica():
    """The replica alias as it is: on the test database."""


@pytest.fixture
def with_dead_replica(settings):
    """The replica alias on a loopback port nothing listens on: connection refused."""
    settings.DATABASE_REPLICA_RETRY_S = 30
    _repoint(HOST="127.0.0.1", PORT=str(free_port()))


@contextlib.contextmanager
def no_replica():
    saved = connections.settings.pop(REPLICA)
    try:
        yield
    finally:
        connections.settings[REPLICA] = saved


def _fallbacks() -> float:
    return REPLICA_FALLBACK_READS._value.get()


def _report(sales_id: int):
    now = timezone.now()
    return stats.report_rows(
        start=now - timedelta(days=1),
        end=now + timedelta(hours=1),
        period="day",
        dimension="queue",
        queue_ids=[sales_id],
    )


# --- the router's rules --------------------------------------------------------------------------------------
def test_router_sends_only_the_reads_inside_the_block_to_the_replica(with_replica):
    router = ReplicaRouter()
    assert router.db_for_read(Conversation) == "default"
    with reads_that_may_lag() as alias:
        assert alias == REPLICA
        assert router.db_for_read(Conversation) == REPLICA
        assert router.db_for_write(Conversation) == "default"
    assert router.db_for_read(Conversation) == "default"
    # Migrations run on the primary only: the replica gets the schema by replication.
    assert router.allow_migrate("default", "imsubsystem") is True
    assert router.allow_migrate(REPLICA, "imsubsystem") is False


def test_without_a_replica_the_block_reads_the_primary_and_counts_nothing(db):
    before = _fallbacks()
    with no_replica():
        with reads_that_may_lag() as alias:
            assert alias == "default"
            assert ReplicaRouter().db_for_read(Conversation) == "default"
        assert replica_alias() == "default"
        assert replica_status()["configured"] is False
    assert _fallbacks() == before


def test_reports_and_staffing_read_the_replica_consoles_and_writes_the_primary(with_replica, teams, supervisor_client):
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        _report(teams["sales"].pk)
        stats.staffing_plan(queue_ids=[teams["sales"].pk])
    assert on_replica.captured_queries and not on_primary.captured_queries
    # A console read (the dashboard's open conversations) and the live snapshot: the primary only.
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        supervisor_client.force_login(teams["sup_a"])
        assert supervisor_client.get("/supervisor/api/conversations").status_code == 200
        stats.snapshot_compute()
    assert not on_replica.captured_queries
    # A write inside the block still goes to the primary.
    with CaptureQueriesContext(connections[REPLICA]) as on_replica, reads_that_may_lag():
        Team.objects.create(name="Written inside")
    assert not on_replica.captured_queries
    assert Team.objects.using("default").filter(name="Written inside").exists()


def test_report_pages_show_what_the_replica_holds(with_replica, teams, client):
    sales = teams["sales"]
    hour_ago = timezone.now() - timedelta(hours=1)
    for _ in range(3):
        ConversationFactory(inbox=teams["sales_inbox"], status="queued", first_queued_at=hour_ago, queued_at=hour_ago)
    client.force_login(teams["sup_a"])
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        csv = client.get("/supervisor/reports.csv").content.decode()
        page = client.get("/supervisor/reports/")
        staffing = client.get("/supervisor/api/staffing")
    assert on_replica.captured_queries
    assert len(csv.strip().splitlines()) == 2 and ",Sales,3," in csv
    assert page.status_code == 200 and staffing.status_code == 200
    assert [q["queue_id"] for q in staffing.json()["queues"]] == [sales.pk]


# --- a replica that does not answer ---------------------------------------------------------------------------
def test_reports_fall_back_to_the_primary_logged_once_and_counted(with_dead_replica, teams, caplog):
    before = _fallbacks()
    with (
        caplog.at_level(logging.WARNING, logger="core.replica"),
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        _report(teams["sales"].pk)
        _report(teams["sales"].pk)
    assert on_primary.captured_queries
    assert _fallbacks() == before + 2
    downs = [r for r in caplog.records if "Replica down" in r.getMessage()]
    assert len(downs) == 1, [r.getMessage() for r in caplog.records]
    status = replica_status()
    assert status["state"] == "down" and status["text"].startswith("Replica down, reading the primary")


def test_a_replica_back_is_read_again_after_the_retry_interval(with_dead_replica, teams, settings, caplog):
    _report(teams["sales"].pk)
    assert not HEALTH.usable()
    # The replica answers again (here: the alias points at the database again) and the retry time passes.
    _repoint(HOST=connections["default"].settings_dict["HOST"], PORT=connections["default"].settings_dict["PORT"])
    HEALTH.mark_down(RuntimeError("earlier"))
    HEALTH.down_until = 0.0
    with caplog.at_level(logging.WARNING, logger="core.replica"):
        assert replica_alias() == REPLICA
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert replica_module.replica_down() is None


def test_a_replica_lost_half_way_through_a_read_is_read_again_on_the_primary(with_replica, teams):
    """The replica's connection is killed between the check and the read: the read runs again on the
    primary and the replica is marked down."""
    calls: list[str] = []

    @may_lag
    def count_conversations() -> int:
        alias = ReplicaRouter().db_for_read(Conversation)
        calls.append(alias)
        if alias == REPLICA:
            thread_id = connections[REPLICA].connection.thread_id()
            with connections["default"].cursor() as cursor:
                cursor.execute(f"KILL {int(thread_id)}")
        return Conversation.objects.count()

    before = _fallbacks()
    assert count_conversations() == 0
    assert calls == [REPLICA, "default"]
    assert _fallbacks() == before + 1
    assert not HEALTH.usable()


# --- the dashboard's lag ---------------------------------------------------------------------------------------
def test_dashboard_says_how_far_behind_the_replica_is(with_replica, teams, client):
    assert replica_status()["state"] == "unknown"  # no heartbeat yet
    heartbeat_write()
    heartbeat_write()  # the second one updates the one row
    assert ReplicaHeartbeat.objects.count() == 1
    status = replica_status()
    assert status["state"] == "ok" and status["lag_s"] == 0.0
    assert status["text"] == "Reports read the replica, 0 s behind the primary."
    client.force_login(teams["sup_a"])
    page = client.get("/supervisor/").content.decode()
    assert 'id="sv-replica" data-state="ok"' in page and "0 s behind the primary" in page
    assert client.get("/supervisor/api/replica").json()["state"] == "ok"
    # A heartbeat nobody has written for long (beat stopped): the lag is unknown, not zero.
    ReplicaHeartbeat.objects.update(beat_at=timezone.now() - timedelta(minutes=5))
    status = replica_status()
    assert status["state"] == "unknown" and "no heartbeat written for" in status["text"]


def test_dashboard_without_a_replica_says_nothing_of_one(teams, client):
    client.force_login(teams["sup_a"])
    with no_replica():
        assert 'id="sv-replica"' not in client.get("/supervisor/").content.decode()
        heartbeat_write()  # beat's task is a no-op without a replica
        assert not ReplicaHeartbeat.objects.exists()
        answer = client.get("/supervisor/api/replica").json()
    assert answer == {
        "configured": False,
        "state": "none",
        "lag_s": None,
        "text": "No replica: reports read the primary.",
    }


def test_api_replica_is_for_supervisors_only(agent_client):
    assert agent_client.get("/supervisor/api/replica").status_code == 403
