"""Reports read a real MySQL replica, consoles the primary, and reports fall back to the primary when the
replica dies.

Two MariaDB servers of the test's own on loopback (tests/faults/support.py, MariaDbServer): a primary with
binary logging (server id 1) and a replica (server id 2) following it by ordinary binlog replication
(`CHANGE MASTER TO ...; START SLAVE`). A daphne process behind nginx and a Celery worker with beat run with
DATABASE_URL on the primary and DATABASE_REPLICA_URL on the replica; beat writes the heartbeat row.

- Reports read the replica: with replication stopped, a conversation written on the primary is in the
  supervisor's console read (the open conversations, the primary) at once but not in the report's CSV
  export (the replica) until replication runs again.
- The dashboard says how far behind the replica is: a few seconds and growing while replication is
  stopped, back to at most a second or two once it runs again.
- The replica is killed (SIGKILL): the report is answered at once from the primary, whole; the dashboard
  says "Replica down, reading the primary"; the daphne process logged it once and counted the fallbacks.
"""

from __future__ import annotations

import contextlib
import copy
import re
import time
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from core.replica import REPLICA
from crm.roles import SUPERVISOR
from imsubsystem.models import Conversation
from supervisor.models import Team
from tests.factories import ConversationFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import MariaDbServer

pytestmark = [pytest.mark.slow]


def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def forget_replica_connection() -> None:
    with contextlib.suppress(AttributeError):
        del connections[REPLICA]


@pytest.fixture
def replicated(tmp_path, django_db_blocker):
    """(primary, replica): the replica follows the primary by binlog replication; this process's `default`
    connection is on the primary (schema migrated there, replicated) and a `replica` alias on the replica."""
    (tmp_path / "primary").mkdir()
    (tmp_path / "replica").mkdir()
    primary = MariaDbServer(tmp_path / "primary", options=["--server-id=1", "--log-bin=binlog", "--binlog-format=ROW"])
    replica = MariaDbServer(tmp_path / "replica", options=["--server-id=2", "--relay-log=relay-bin"])
    if primary.missing:
        pytest.skip(primary.missing)
    saved = dict(connection.settings_dict)
    try:
        primary.install()  # the database's CREATE is in the binlog before the replica starts reading it
        replica.install()  # so the replica creates its own, then reads from the position after it
        replica.query("SET GLOBAL read_only = 1")
        head = primary.rows("SHOW MASTER STATUS")[0]
        replica.query(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='root', "
            f"MASTER_PASSWORD='', MASTER_LOG_FILE='{head['File']}', MASTER_LOG_POS={int(head['Position'])}, "
            "MASTER_CONNECT_RETRY=1"
        )
        replica.query("START SLAVE")
        with django_db_blocker.unblock():
            connections.close_all()
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(primary.port), NAME=primary.name, USER="root")
            connection.settings_dict["PASSWORD"] = ""
            replica_settings = copy.deepcopy(connection.settings_dict)
            replica_settings.update(PORT=str(replica.port))
            replica_settings["TEST"] = {**replica_settings.get("TEST", {}), "MIRROR": "default"}
            connections.settings[REPLICA] = replica_settings
            forget_replica_connection()  # one made earlier in this thread would be on another server
            try:
                call_command("migrate", interactive=False, verbosity=0)
                yield primary, replica
            finally:
                connections.close_all()
                forget_replica_connection()
                del connections.settings[REPLICA]
                connection.settings_dict.clear()
                connection.settings_dict.update(saved)
    finally:
        replica.kill()
        primary.kill()


def report_volume(http: httpx.Client) -> int:
    """The Sales row's volume in the CSV export of the last week's report (a read that may lag)."""
    answer = http.get("/supervisor/reports.csv")
    assert answer.status_code == 200, answer.text
    rows = [line.split(",") for line in answer.text.strip().splitlines()[1:]]
    return sum(int(row[3]) for row in rows if row[2] == "Sales")


def open_conversations(http: httpx.Client) -> int:
    """How many open conversations the supervisor's console lists (a read on the primary)."""
    answer = http.get("/supervisor/api/conversations")
    assert answer.status_code == 200, answer.text
    return len(answer.json()["conversations"])


def replica_line(http: httpx.Client) -> dict:
    return http.get("/supervisor/api/replica").json()


def test_reports_read_the_replica_and_fall_back_to_the_primary(replicated, start_cluster):
    _primary, replica = replicated
    sales = QueueFactory(name="Sales")
    inbox = InboxFactory(key="sales-web", kind="web", default_queue=sales)
    boss = UserFactory(username="sup-replica", role=SUPERVISOR)
    team = Team.objects.create(name="Replica")
    team.supervisors.set([boss])
    team.queues.set([sales])
    hour_ago = timezone.now() - timedelta(hours=1)

    def arrive() -> None:
        ConversationFactory(inbox=inbox, status="queued", first_queued_at=hour_ago, queued_at=hour_ago)

    for _ in range(3):
        arrive()
    web = Client()
    web.force_login(boss)
    cluster = start_cluster(
        daphnes=1,
        celery=True,
        env={
            "DATABASE_REPLICA_URL": replica.url,
            "DATABASE_REPLICA_HEARTBEAT_S": "0.5",
            "DATABASE_REPLICA_RETRY_S": "30",
            "LOG_LEVEL": "WARNING",
        },
    )
    http = httpx.Client(base_url=cluster.base, cookies={"sessionid": web.cookies["sessionid"].value}, timeout=30)
    until(lambda: Conversation.objects.using(REPLICA).count() == 3, 30, "the replica to catch up")

    # In step: the report (the replica) and the console (the primary) agree; the lag is a heartbeat or so.
    assert report_volume(http) == 3 and open_conversations(http) == 3
    status = until(lambda: (s := replica_line(http))["state"] == "ok" and s, 30, "beat's heartbeat on the replica")
    assert status["lag_s"] <= 2, status
    page = http.get("/supervisor/").text
    assert re.search(r'id="sv-replica" data-state="ok"[^>]*>Reports read the replica, \d+ s behind the primary', page)

    # Replication stopped: a new conversation is on the console at once, not in the report; the lag grows.
    replica.query("STOP SLAVE")
    arrive()
    assert open_conversations(http) == 4
    assert report_volume(http) == 3
    status = until(lambda: (s := replica_line(http))["lag_s"] is not None and s["lag_s"] >= 3 and s, 20, "the lag")
    assert status["state"] == "ok" and f"{status['lag_s']:.0f} s behind the primary" in status["text"], status
    print(f"\nreplica stopped: the dashboard says {status['text']!r}")

    # Replication runs again: the report catches up and the lag falls back.
    replica.query("START SLAVE")
    until(lambda: report_volume(http) == 4, 30, "the report to see the fourth conversation")
    until(lambda: (s := replica_line(http))["state"] == "ok" and s["lag_s"] <= 2, 30, "the lag to fall")

    # The replica dies: the report is answered from the primary, whole, and at once.
    replica.kill()
    arrive()
    started = time.monotonic()
    assert report_volume(http) == 5
    first_fallback_s = time.monotonic() - started
    assert first_fallback_s < 5, first_fallback_s
    assert report_volume(http) == 5 and open_conversations(http) == 5
    status = replica_line(http)
    assert status["state"] == "down" and status["text"].startswith("Replica down, reading the primary"), status
    assert "Replica down, reading the primary" in http.get("/supervisor/").text
    print(f"replica killed: the first report answered from the primary in {first_fallback_s:.2f} s")
    # The daphne process said so once and counted each report it sent to the primary.
    log = (cluster.workdir / f"daphne-{cluster.ports[0]}.log").read_text()
    assert log.count("Replica down") == 1, log[-2000:]
    metrics = httpx.get(f"http://127.0.0.1:{cluster.ports[0]}/metrics").text
    fallbacks = re.search(r"^switchboard_replica_fallback_reads_total (\S+)$", metrics, re.M)
    assert fallbacks and float(fallbacks.group(1)) >= 2, metrics[-1500:]
    http.close()
