"""Security fixtures: two teams (each a queue, a supervisor and an agent); real daphne behind the real nginx
of deploy/nginx.conf.template, and one daphne alone, on the test database and Redis; helpers to read what a
socket was sent."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from crm.roles import AGENT, SUPERVISOR
from routing.models import AgentStatus
from supervisor.models import Team
from tests.factories import AgentProfileFactory, InboxFactory, QueueFactory, UserFactory
from tests.faults.support import Cluster


def database_url() -> str:
    db = connection.settings_dict
    return f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def start_cluster():
    """start_cluster(daphnes=1, env=None) -> daphne (--proxy-headers) behind nginx on the test database and
    Redis; stopped afterwards."""
    started: list[Cluster] = []
    workdirs: list[Path] = []

    def start(*, daphnes: int = 1, env: dict[str, str] | None = None, redis_url: str | None = None, **options):
        # nginx's workers (an unprivileged user) write request bodies under the work directory, so it
        # must be reachable for them: pytest's own temporary folders are private to their owner.
        workdir = Path(tempfile.mkdtemp(prefix="sb-security-"))
        workdir.chmod(0o755)
        workdirs.append(workdir)
        cluster = Cluster(workdir, database_url(), redis_url or settings.REDIS_URL, daphnes=daphnes, env=env, **options)
        started.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()
    for workdir in workdirs:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def daphne_process(tmp_path):
    """daphne_process(env=None) -> (base_url, Popen): one daphne on the test database and Redis, as
    deployed (--proxy-headers), without nginx; stopped afterwards."""
    import os
    import subprocess

    from tests.faults.support import BIN, ROOT, free_port, wait_port

    started: list[subprocess.Popen] = []

    def start(env: dict[str, str] | None = None):
        port = free_port()
        full = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        log = open(tmp_path / f"daphne-{port}.log", "w")  # noqa: SIM115 - lives as long as the process
        args = [str(BIN / "daphne"), "--proxy-headers", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        proc = subprocess.Popen(args, cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        wait_port(port)
        return f"http://127.0.0.1:{port}", proc

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


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
