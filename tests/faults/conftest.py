"""Fixtures of the fault tests: real processes on the test database (tests/faults/support.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from tests.faults.support import Cluster, RedisServer


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
