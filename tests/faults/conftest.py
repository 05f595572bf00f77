"""Fixtures of the fault tests: real processes on the test database (tests/faults/support.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

from tests.faults.support import Cluster, MariaDbServer, RedisServer


def database_url() -> str:
    db = connection.settings_dict
    return f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def start_cluster(tmp_path):
    """start_cluster(redis_url=None, daphnes=2, celery=False, env=None) -> a started Cluster on the test
    database (and the test Redis unless told otherwise); every one started is stopped afterwards."""
    started: list[Cluster] = []

    def start(*, redis_url: str | None = None, **options) -> Cluster:
        workdir = tmp_path / f"cluster-{len(started)}"
        workdir.mkdir()
        cluster = Cluster(workdir, database_url(), redis_url or settings.REDIS_URL, **options)
        started.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own (no persistence), killed at the end."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_mariadb(tmp_path, django_db_blocker):
    """A MariaDB server of the test's own (support.MariaDbServer) with the schema migrated; while the test
    runs, this process's default connection is on it too (so the factories and the checks read what the
    server processes wrote). A test using it takes no `django_db` mark: its database is its own."""
    server = MariaDbServer(tmp_path)
    if server.missing:
        pytest.skip(server.missing)
    server.install()
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connections.close_all()
        # In place: every thread's connection is made from this same dict.
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(server.port), NAME=server.name, USER="root")
        connection.settings_dict["PASSWORD"] = ""
        try:
            call_command("migrate", interactive=False, verbosity=0)
            yield server
        finally:
            connections.close_all()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
            server.kill()
